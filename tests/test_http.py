"""The shared HTTP client: retries, rate limits, conditional requests, pagination, counting."""

from __future__ import annotations

import pytest
import requests
import responses

from kpi_exporter.health import Health
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.http import HttpClient, with_query
from kpi_exporter.store import Validator

API = "https://api.example.test"


def client(health: Health, **kwargs: object) -> tuple[HttpClient, list[float]]:
    slept: list[float] = []
    http = HttpClient(
        "gh",
        health,
        headers=lambda: {"Authorization": "Bearer s3cret-token"},
        sleep=slept.append,
        clock=lambda: 1_000_000.0,
        **kwargs,  # type: ignore[arg-type]
    )
    return http, slept


@responses.activate
def test_a_5xx_is_retried_with_backoff_then_succeeds() -> None:
    health = Health()
    responses.get(f"{API}/x", status=502)
    responses.get(f"{API}/x", status=503)
    responses.get(f"{API}/x", json={"ok": True})
    http, slept = client(health)
    assert http.get(f"{API}/x").json() == {"ok": True}
    assert len(slept) == 2
    # jittered exponential backoff: 1 s then 2 s, each times 0.5..1.5
    assert 0.5 <= slept[0] <= 1.5 and 1.0 <= slept[1] <= 3.0
    assert health.api_requests == {("gh", "502"): 1, ("gh", "503"): 1, ("gh", "200"): 1}


@responses.activate
def test_retries_are_bounded_and_the_error_names_no_secret() -> None:
    responses.get(f"{API}/x", status=500)
    http, _ = client(Health(), max_attempts=3)
    with pytest.raises(SourceError) as raised:
        http.get(f"{API}/x", {"access_token": "query-secret"})
    message = str(raised.value)
    assert message == f"GET {API}/x: HTTP 500 after 3 attempts"
    assert "secret" not in message
    assert len(responses.calls) == 3


@responses.activate
def test_connection_errors_are_retried_and_counted() -> None:
    health = Health()
    responses.get(f"{API}/x", body=requests.ConnectionError("refused"))
    responses.get(f"{API}/x", json=[])
    http, slept = client(health)
    assert http.get(f"{API}/x").json() == []
    assert health.api_requests[("gh", "error")] == 1 and len(slept) == 1


@responses.activate
def test_secondary_rate_limit_403_waits_for_retry_after() -> None:
    health = Health()
    responses.get(
        f"{API}/x",
        status=403,
        headers={"Retry-After": "30"},
        json={"message": "You have exceeded a secondary rate limit."},
    )
    responses.get(f"{API}/x", json={"ok": 1}, headers={"x-ratelimit-remaining": "4321"})
    http, slept = client(health)
    assert http.get(f"{API}/x").json() == {"ok": 1}
    assert slept == [30.0]
    assert health.rate_limit_remaining == {("gh", ""): 4321.0}


# (status, headers of the limited answer, its body, the wait until the reset plus a second)
RATE_LIMITED = {
    "github primary limit": (
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_000_000 + 42)},
        {"message": "API rate limit exceeded"},
        43.0,
    ),
    "gitlab 429": (
        429,
        {"RateLimit-Remaining": "0", "RateLimit-Reset": str(1_000_000 + 9)},
        None,
        10.0,
    ),
}


@pytest.mark.parametrize(
    ("status", "headers", "body", "wait"), RATE_LIMITED.values(), ids=RATE_LIMITED.keys()
)
@responses.activate
def test_a_spent_rate_limit_waits_until_its_reset(
    status: int, headers: dict[str, str], body: dict[str, str] | None, wait: float
) -> None:
    responses.get(f"{API}/x", status=status, headers=headers, json=body)
    responses.get(f"{API}/x", json={})
    http, slept = client(Health())
    http.get(f"{API}/x")
    assert slept == [wait]


@responses.activate
def test_a_rate_limit_too_long_to_wait_fails_the_poll() -> None:
    responses.get(f"{API}/x", status=429, headers={"Retry-After": "7200"})
    http, slept = client(Health())
    with pytest.raises(SourceError, match="rate limited for 7200 s more"):
        http.get(f"{API}/x")
    assert slept == []


@responses.activate
def test_a_plain_403_is_not_retried() -> None:
    responses.get(f"{API}/x", status=403, json={"message": "Resource not accessible"})
    http, slept = client(Health())
    with pytest.raises(SourceError, match=r"HTTP 403 \(Resource not accessible\)"):
        http.get(f"{API}/x")
    assert slept == [] and len(responses.calls) == 1


@responses.activate
def test_conditional_request_sends_validators_and_counts_the_304() -> None:
    health = Health()
    url = f"{API}/repos/o/r/pulls"
    responses.get(url, json=[1], headers={"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026"})
    responses.get(url, status=304)
    validators: dict[str, Validator] = {}
    http, _ = client(health, validators=validators)
    assert http.get(url, {"per_page": 1, "state": "all"}).json() == [1]
    key = with_query(url, {"state": "all", "per_page": 1})
    assert validators == {key: Validator('"v1"', "Mon, 23 Nov 2026")}
    again = http.get(url, {"state": "all", "per_page": 1})
    assert again.not_modified
    sent = responses.calls[1].request.headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 23 Nov 2026"
    assert health.api_requests == {("gh", "200"): 1, ("gh", "304"): 1}


@responses.activate
def test_pages_follow_link_next_to_the_end() -> None:
    first = f"{API}/items?per_page=2"
    responses.get(
        first,
        json=[1, 2],
        headers={"Link": f'<{API}/items?page=2>; rel="next", <{API}/items?page=3>; rel="last"'},
    )
    responses.get(
        f"{API}/items?page=2", json=[3, 4], headers={"Link": f'<{API}/items?page=3>; rel="next"'}
    )
    responses.get(f"{API}/items?page=3", json=[5])
    http, _ = client(Health())
    items = [item for page in http.pages(f"{API}/items", {"per_page": 2}) for item in page.json()]
    assert items == [1, 2, 3, 4, 5]


@responses.activate
def test_an_unchanged_first_page_ends_the_list() -> None:
    url = f"{API}/items"
    responses.get(url, status=304)
    http, _ = client(Health(), validators={url: Validator(etag='"x"')})
    pages = list(http.pages(url))
    assert len(pages) == 1 and pages[0].not_modified and len(responses.calls) == 1


@responses.activate
def test_malformed_json_is_a_clear_error() -> None:
    responses.get(f"{API}/x", body='{"truncated": [1, 2')
    http, _ = client(Health())
    with pytest.raises(SourceError, match=f"GET {API}/x: response is not valid JSON"):
        http.get(f"{API}/x").json()


@responses.activate
def test_the_auth_header_is_sent_but_never_reported() -> None:
    responses.get(f"{API}/x", status=404, json={"message": "Not Found"})
    http, _ = client(Health())
    with pytest.raises(SourceError) as raised:
        http.get(f"{API}/x")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer s3cret-token"
    assert "s3cret" not in str(raised.value)
