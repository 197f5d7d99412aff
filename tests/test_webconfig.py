"""The web configuration: basic auth with bcrypt hashes, TLS, and validation of the file.

The self-signed certificate is made with the ``openssl`` command line (present on Debian and
every CI image by default; the ``cryptography`` package is not a dependency of the project).
"""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests

from kpi_exporter.config import ConfigError
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.store import Store
from kpi_exporter.webconfig import BasicAuth, WebConfig, load_web_config

TIMEOUT = 5.0
PASSWORD = "correct horse"
Y_PASSWORD = "with:colon"  # only the first ':' of user:password separates the two
REALM = 'Basic realm="kpi-exporter"'


# --- fixtures -----------------------------------------------------------------------------


def write_web_config(directory: Path, text: str) -> Path:
    path = directory / "web.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    """``$2b$`` as Python's bcrypt writes it, ``$2y$`` as htpasswd writes it (same algorithm)."""
    b_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    y_hash = "$2y$" + bcrypt.hashpw(Y_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]
    assert b_hash.startswith("$2b$04$")
    assert y_hash.startswith("$2y$04$")
    return {"prometheus": b_hash, "grafana": y_hash}


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    store = Store(":memory:")
    yield Pipeline(store)
    store.close()


@pytest.fixture(scope="module")
def listening(pipeline: Pipeline) -> Iterator[ExporterServer]:
    """One plain HTTP server per module; each test sets its own ``basic_auth`` on it."""
    server = ExporterServer(("127.0.0.1", 0), pipeline)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def auth_server(
    listening: ExporterServer,
    hashes: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> ExporterServer:
    """The server with basic auth from a web config file, as ``kpi-exporter run`` loads it."""
    path = write_web_config(
        tmp_path,
        f"basic_auth_users:\n  prometheus: '{hashes['prometheus']}'\n"
        f"  grafana: '{hashes['grafana']}'\n",
    )
    web, _ = load_web_config(path)
    monkeypatch.setattr(listening, "basic_auth", BasicAuth(web.basic_auth_users))
    return listening


def url(server: ExporterServer, path: str, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.port}{path}"


# --- basic auth ---------------------------------------------------------------------------


WRONG_CREDENTIALS: dict[str, dict[str, Any]] = {
    "none": {},
    "wrong-password": {"auth": ("prometheus", "correct horse!")},
    "unknown-user": {"auth": ("nobody", PASSWORD)},
    "other-users-password": {"auth": ("grafana", PASSWORD)},
    "empty": {"auth": ("", "")},
    "not-base64": {"headers": {"Authorization": "Basic %%%not-base64%%%"}},
    "not-basic": {"headers": {"Authorization": "Bearer " + PASSWORD}},
}


@pytest.mark.parametrize("path", ["/", "/metrics"])
@pytest.mark.parametrize("credentials", WRONG_CREDENTIALS.values(), ids=WRONG_CREDENTIALS.keys())
def test_basic_auth_refuses_missing_or_wrong_credentials(auth_server, path, credentials):
    response = requests.get(url(auth_server, path), timeout=TIMEOUT, **credentials)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM
    assert response.content == b""


@pytest.mark.parametrize("path", ["/", "/metrics"])
@pytest.mark.parametrize(
    "user, password", [("prometheus", PASSWORD), ("grafana", Y_PASSWORD)], ids=["2b", "2y"]
)
def test_basic_auth_accepts_the_right_credentials(auth_server, path, user, password):
    response = requests.get(url(auth_server, path), auth=(user, password), timeout=TIMEOUT)

    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


def test_basic_auth_header_built_by_hand_is_accepted(auth_server):
    token = base64.b64encode(f"grafana:{Y_PASSWORD}".encode()).decode()

    response = requests.get(
        url(auth_server, "/metrics"),
        headers={"Authorization": f"Basic {token}"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200


@pytest.mark.parametrize("path, body", [("/healthz", "ok\n"), ("/readyz", "ready\n")])
def test_probes_stay_open_with_basic_auth(auth_server, path, body):
    response = requests.get(url(auth_server, path), timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.text == body


def test_unknown_path_asks_for_credentials_before_saying_404(auth_server):
    assert requests.get(url(auth_server, "/nope"), timeout=TIMEOUT).status_code == 401
    response = requests.get(
        url(auth_server, "/nope"), auth=("prometheus", PASSWORD), timeout=TIMEOUT
    )
    assert response.status_code == 404


def test_no_basic_auth_users_means_open(listening):
    assert requests.get(url(listening, "/metrics"), timeout=TIMEOUT).status_code == 200


def test_basic_auth_check_against_hand_made_hashes(hashes):
    auth = BasicAuth(hashes)

    assert auth.enabled
    assert auth.check("prometheus", PASSWORD)
    assert auth.check("prometheus", PASSWORD)  # the remembered answer is the same
    assert not auth.check("prometheus", PASSWORD.upper())
    assert auth.check("grafana", Y_PASSWORD)
    assert not auth.check("nobody", PASSWORD)
    assert not BasicAuth({}).enabled


def test_basic_auth_with_a_hash_that_is_not_bcrypt_refuses_instead_of_failing():
    auth = BasicAuth({"admin": "plain-text-password"})

    assert not auth.check("admin", "plain-text-password")


# --- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a self-signed cert.pem (for 127.0.0.1) and key.pem."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(directory / "key.pem"),
            "-out",
            str(directory / "cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return directory


def tls_context(directory: Path, extra: str = "") -> ssl.SSLContext:
    """Load a web config whose relative certificate paths resolve against its own directory."""
    path = write_web_config(
        directory,
        f"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n{extra}",
    )
    web, base = load_web_config(path)
    assert base == directory.resolve()
    context = web.ssl_context(base)
    assert context is not None
    return context


@pytest.fixture(scope="module")
def tls_server(certificate: Path, pipeline: Pipeline) -> Iterator[ExporterServer]:
    server = ExporterServer(("127.0.0.1", 0), pipeline, tls=tls_context(certificate))
    server.start()
    yield server
    server.stop()


def test_tls_serves_metrics_over_https(tls_server, certificate):
    response = requests.get(
        url(tls_server, "/metrics", "https"), verify=str(certificate / "cert.pem"), timeout=TIMEOUT
    )

    assert response.status_code == 200
    assert "kpi_exporter_build_info" in response.text


def test_tls_certificate_is_not_trusted_without_the_ca(tls_server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url(tls_server, "/healthz", "https"), timeout=TIMEOUT)


def test_tls_refuses_plain_http(tls_server, certificate):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url(tls_server, "/metrics"), timeout=TIMEOUT)

    # and keeps serving HTTPS afterwards
    response = requests.get(
        url(tls_server, "/healthz", "https"), verify=str(certificate / "cert.pem"), timeout=TIMEOUT
    )
    assert response.status_code == 200


def test_tls_a_silent_client_does_not_block_other_clients(tls_server, certificate):
    # A client that connects and never starts the handshake (a port scanner, a stuck proxy).
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=TIMEOUT):
        response = requests.get(
            url(tls_server, "/healthz", "https"),
            verify=str(certificate / "cert.pem"),
            timeout=TIMEOUT,
        )

    assert response.status_code == 200


def test_tls_and_basic_auth_together(tls_server, certificate, hashes, monkeypatch):
    monkeypatch.setattr(tls_server, "basic_auth", BasicAuth(hashes))
    ca = str(certificate / "cert.pem")

    refused = requests.get(url(tls_server, "/metrics", "https"), verify=ca, timeout=TIMEOUT)
    allowed = requests.get(
        url(tls_server, "/metrics", "https"),
        verify=ca,
        auth=("prometheus", PASSWORD),
        timeout=TIMEOUT,
    )

    assert refused.status_code == 401
    assert allowed.status_code == 200


def test_tls_min_version_tls13_refuses_a_tls12_client(certificate, pipeline):
    context = tls_context(certificate, "  min_version: TLS13\n")
    server = ExporterServer(("127.0.0.1", 0), pipeline, tls=context)
    server.start()
    try:
        client = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw,
            pytest.raises(ssl.SSLError),
        ):
            client.wrap_socket(raw, server_hostname="127.0.0.1")
        response = requests.get(
            url(server, "/healthz", "https"),
            verify=str(certificate / "cert.pem"),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200
    finally:
        server.stop()


def test_no_tls_server_config_means_no_ssl_context():
    assert WebConfig().ssl_context(Path(".")) is None


@pytest.mark.parametrize("key", ["cert_file", "key_file"])
def test_missing_certificate_file_is_a_config_error_naming_it(certificate, tmp_path, key):
    files = {"cert_file": str(certificate / "cert.pem"), "key_file": str(certificate / "key.pem")}
    files[key] = "missing.pem"
    web = WebConfig.model_validate({"tls_server_config": files})

    with pytest.raises(ConfigError) as raised:
        web.ssl_context(tmp_path)

    assert raised.value.problems == [
        f"tls_server_config.{key}: {tmp_path}/missing.pem: no such file"
    ]


def test_certificate_and_key_swapped_is_a_config_error(certificate):
    web = WebConfig.model_validate(
        {"tls_server_config": {"cert_file": "key.pem", "key_file": "cert.pem"}}
    )

    with pytest.raises(ConfigError) as raised:
        web.ssl_context(certificate)

    (problem,) = raised.value.problems
    assert problem.startswith("tls_server_config: cannot load certificate or key: ")


def test_client_auth_without_client_ca_is_a_config_error(certificate):
    web = WebConfig.model_validate(
        {
            "tls_server_config": {
                "cert_file": "cert.pem",
                "key_file": "key.pem",
                "client_auth_type": "RequireAndVerifyClientCert",
            }
        }
    )

    with pytest.raises(ConfigError) as raised:
        web.ssl_context(certificate)

    assert raised.value.problems == [
        "tls_server_config.client_ca_file: required to verify client certificates"
    ]


# --- validation of the file ---------------------------------------------------------------


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = write_web_config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_web_config(path)
    return raised.value.problems


def test_unknown_top_level_key_names_file_line_and_key(tmp_path):
    text = "basic_auth_users: {}\nbasic_auth_user:\n  admin: x\n"

    assert problems_of(tmp_path, text) == [
        f"{tmp_path}/web.yml:2: basic_auth_user: unknown key (did you mean 'basic_auth_users'?)"
    ]


def test_unknown_nested_key_names_file_line_and_key_path(tmp_path):
    text = (
        "# TLS for the exporter\n"
        "tls_server_config:\n"
        "  cert_file: cert.pem\n"
        "  key_file: key.pem\n"
        "  cert_fiel: other.pem\n"
    )

    assert problems_of(tmp_path, text) == [
        f"{tmp_path}/web.yml:5: tls_server_config.cert_fiel:"
        " unknown key (did you mean 'cert_file'?)"
    ]


def test_missing_required_key_is_reported_at_its_parent(tmp_path):
    text = "tls_server_config:\n  cert_file: cert.pem\n"

    assert problems_of(tmp_path, text) == [
        f"{tmp_path}/web.yml:1: tls_server_config.key_file: required key is missing"
    ]


def test_bad_min_version_is_refused(tmp_path):
    text = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS11\n"

    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(f"{tmp_path}/web.yml:4: tls_server_config.min_version: ")
    assert "TLS12" in problem


def test_basic_auth_users_must_be_a_mapping(tmp_path):
    text = "basic_auth_users:\n  - admin\n"

    assert problems_of(tmp_path, text) == [
        f"{tmp_path}/web.yml:1: basic_auth_users: expected a mapping"
    ]


def test_invalid_yaml_names_file_and_line(tmp_path):
    (problem,) = problems_of(tmp_path, "basic_auth_users:\n  admin: [unclosed\n")

    assert problem.startswith(f"{tmp_path}/web.yml:")
    assert "not valid YAML" in problem


def test_unreadable_web_config_file(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_web_config(tmp_path / "absent.yml")

    assert raised.value.problems == [
        f"{tmp_path}/absent.yml: cannot read the web configuration: No such file or directory"
    ]


def test_empty_web_config_is_valid_and_changes_nothing(tmp_path):
    web, base = load_web_config(write_web_config(tmp_path, ""))

    assert web == WebConfig()
    assert base == tmp_path.resolve()
    assert not BasicAuth(web.basic_auth_users).enabled
