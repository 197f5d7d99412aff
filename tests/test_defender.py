"""The defender source against a fake Defender export API and Entra ID token endpoint
(tests/defender_fake.py): the full export on a first sync, the delta export after it, a
finding fixed and one fixed then reopened, a severity update, a device moved between device
groups, device groups and names mapped to apps; exact values on /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.store import SourceState, Store
from tests.defender_fake import API, CLIENT, LOGIN, SECRET, TENANT, FakeDefender, change, record
from tests.findings_fixtures import API_APP, DAY, HOUR, NOW, OTHER, SHOP, findings_source
from tests.support import installed, poll_error, poll_into, served, value

R1 = record("dev-a", "openssl", "CVE-2026-0001", "Critical", "2026-11-01T00:00", group="shop-web")
R2 = record("dev-a", "chrome", "CVE-2026-0002", "Critical", "2026-11-02T00:00", group="shop-web")
R3 = record("dev-b", "nginx", "CVE-2026-0003", "High", "2026-11-03T00:00", group="api-servers")
R4 = record("dev-c", "zlib", "CVE-2026-0004", "Low", "2026-11-04T00:00", name="kiosk-01")
R5 = record("dev-a", "notepad", None, None, "2026-11-04T00:00", group="shop-web")  # no CVE
R6 = record("dev-b", "curl", "CVE-2026-0006", "Medium", "2026-11-20T02:00", group="api-servers")


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFENDER_SECRET", SECRET)


@pytest.fixture
def defender() -> Iterator[FakeDefender]:
    fake = FakeDefender(page_size=2, now=NOW)
    yield from installed(fake)


def source(clock: list[float], **fields: Any) -> Any:
    settings = {
        "login_url": LOGIN,
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "machines": {"shop-*": "shop", "api-*": "api"},
        **fields,
    }
    return findings_source("defender", "DEFENDER_SECRET", API, clock, **settings)


def test_full_export_then_deltas_fix_reopen_update_and_move(
    defender: FakeDefender, tmp_path: Path
) -> None:
    defender.snapshot = [R1, R2, R3, R4, R5]
    clock = [NOW]
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])
    polled = source(clock)

    first = poll_into(pipeline, polled)

    assert first.problems == []
    # A token, then 5 records 2 a page: 3 pages of the full export.
    assert [seen.split("?")[0] for seen in defender.seen] == [
        f"POST /{TENANT}/oauth2/v2.0/token",
        *["GET /api/machines/SoftwareVulnerabilitiesByMachine"] * 3,
    ]
    assert "pageSize=10000" in defender.seen[1]
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 2  # R1, R2
    assert value(text, "kpi_vulnerabilities_open", severity="high", **API_APP) == 1  # R3
    assert value(text, "kpi_vulnerabilities_open", severity="low", **OTHER) == 1  # R4: no glob
    assert value(text, "kpi_vulnerabilities_open", scanner="defender") == 4  # R5 has no CVE

    # Six hours later: R1 fixed; R3's severity raised; R6 new; R2's device moved from the
    # shop-web group to api-servers (Fixed under the old group, New under the new, at once).
    defender.changes = [
        change(R1, "Fixed", "2026-11-20T03:00"),
        change(R3, "Updated", "2026-11-20T03:00", vulnerabilitySeverityLevel="Critical"),
        change(R6, "New", "2026-11-20T02:00"),
        change(R2, "New", "2026-11-20T04:00", rbacGroupName="api-servers"),
        change(R2, "Fixed", "2026-11-20T04:00"),
    ]
    defender.seen.clear()
    clock[0] = NOW + 6 * HOUR

    poll_into(pipeline, polled)

    # The token bought at NOW (an hour's life) expired: a new one, then 5 changes: 3 pages.
    assert defender.issued == 2
    assert len(defender.seen) == 1 + 3
    assert "sinceTime=2026-11-20T00%3A00%3A00Z" in defender.seen[1]
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **SHOP) == 1
    # R1: first seen 11-01 00:00, fixed 11-20 03:00: 19 days and 3 hours.
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="critical", **SHOP) == (
        19 * DAY + 3 * HOUR
    )
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 0
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **API_APP) == 2  # R2, R3
    assert value(text, "kpi_vulnerabilities_open", severity="high", **API_APP) == 0
    assert value(text, "kpi_vulnerabilities_open", severity="medium", **API_APP) == 1  # R6
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **API_APP) == 0

    # Six hours more: R1 is found again on the device (reopened).
    defender.changes.append(change(R1, "New", "2026-11-20T09:00"))
    defender.seen.clear()
    clock[0] = NOW + 12 * HOUR

    third = poll_into(pipeline, polled)

    # sinceTime 06:00: only the changes of its period (06:00-12:00) and later: R1's New.
    assert [event.key for event in third.events] == [f"defender/{R1['id']}"]
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **SHOP) == 1
    assert (
        value(text, "kpi_vulnerabilities_fixed_retracted_total", severity="critical", **SHOP) == 1
    )


def test_after_a_gap_beyond_the_delta_the_full_export_fixes_what_is_gone(
    defender: FakeDefender, tmp_path: Path
) -> None:
    defender.snapshot = [R1, R4]
    clock = [NOW]
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])
    polled = source(clock)
    poll_into(pipeline, polled)

    # 15 days without a poll: more than the delta reaches. R4 was remediated meanwhile.
    defender.snapshot = [R1]
    defender.seen.clear()
    clock[0] = defender.now = NOW + 15 * DAY
    poll_into(pipeline, polled)

    assert not any("ChangesByMachine" in seen for seen in defender.seen)
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="low", **OTHER) == 0
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="low", **OTHER) == 1
    # R4: first seen 11-04, gone at the poll of 12-05 (NOW + 15 days): 31 days.
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="low", **OTHER) == 31 * DAY
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 1


def test_a_wrong_client_secret_fails_the_poll_with_entra_reason(
    defender: FakeDefender, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFENDER_SECRET", "wrong-s3cret")
    error = poll_error(source([NOW]))
    assert error == (
        f"POST {LOGIN}/{TENANT}/oauth2/v2.0/token: HTTP 401"
        " (AADSTS7000215: Invalid client secret provided.)"
    )
    assert "s3cret" not in error


def test_a_revoked_token_is_bought_again_at_the_next_poll(defender: FakeDefender) -> None:
    defender.snapshot = [R1]
    clock = [NOW]
    polled = source(clock)
    first = polled.poll(SourceState())
    defender.tokens.clear()  # revoked: the API answers 401
    with pytest.raises(SourceError, match=r"HTTP 401 \(Authorization token is invalid\)"):
        polled.poll(SourceState(cursor=first.cursor))
    second = polled.poll(SourceState(cursor=first.cursor))
    assert defender.tokens == ["eyJ0eXAi.token-2"]
    assert second.problems == []


def test_a_record_of_another_shape_is_a_problem_and_the_others_count(
    defender: FakeDefender,
) -> None:
    broken = {**R3, "firstSeenTimestamp": "yesterday"}
    defender.snapshot = [R1, broken]
    poll = source([NOW]).poll(SourceState())
    assert [event.key for event in poll.events] == [f"defender/{R1['id']}"]
    assert poll.problems == [
        f"record {R3['id']}: skipped: SourceError unexpected time value 'yesterday'"
        " in a Defender response"
    ]
