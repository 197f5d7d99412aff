"""Write the quick start's sample files (examples/samples/), dated relative to a day.

The KPIs are windows by event time (7, 30 and 90 days): samples dated once would leave the
windows as they age. This script writes them again for any day, so the quick start always
shows every quadrant:

    python examples/samples.py                      # dated relative to today (UTC)
    python examples/samples.py --today 2026-12-02   # the files in the repository

Everything here is made up for the sample app ``billing`` (team payments) of
examples/quickstart.yaml: pull requests with their review times, deployments (one failed,
one hotfix), incidents and defects, a Cobertura coverage report, two JUnit reports (a flaky test, a
failure), three Trivy reports of one image (findings opened, fixed and past their SLA), a
FOCUS cost export of the last 40 days and a developer survey. No file names a person.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMITS = ("4b1d0e5c9a7f3e2d1c0b9a8f7e6d5c4b3a291807", "7e6d5c4b3a2918074b1d0e5c9a7f3e2d1c0b9a8f")


class Clock:
    """Times relative to midnight UTC of ``today``: ``at(3, 14)`` is 3 days before, 14:00."""

    def __init__(self, today: date) -> None:
        self.midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)

    def at(self, days_ago: float, hour: float = 0.0) -> datetime:
        return self.midnight - timedelta(days=days_ago) + timedelta(hours=hour)

    def iso(self, days_ago: float, hour: float = 0.0) -> str:
        return self.at(days_ago, hour).strftime("%Y-%m-%dT%H:%M:%SZ")


def events(clock: Clock) -> str:
    """Deployments of billing with their pull requests (commit, open, first review, merge;
    the hotfix merged without a review), and two incidents: one caused by a deployment
    (explicit reference), one not."""
    lines = []
    # (deployment days ago, hour, change type, failed)
    deployments = [
        (27, 10, "normal", False),
        (24, 11, "normal", False),
        (20, 15, "normal", True),
        (20, 17, "hotfix", False),
        (16, 10, "normal", False),
        (12, 14, "normal", False),
        (9, 11, "normal", False),
        (6, 16, "normal", False),
        (3, 10, "normal", False),
        (1, 15, "normal", False),
    ]
    for number, (days_ago, hour, change_type, failed) in enumerate(deployments, 1):
        # Two pull requests per deployment: coding 1-2 days, pickup 2-5 h, review 1-3 h.
        changes = [
            {
                "id": f"billing#{number * 10 + k}",
                "first_commit_at": clock.iso(days_ago + 2 - k, 9),
                "opened_at": clock.iso(days_ago + 1, 9 + k),
                "first_review_at": clock.iso(days_ago + 1, 12 + 2 * k),
                "merged_at": clock.iso(days_ago + 1, 14 + 2 * k),
                "size_lines": 40 + 90 * k + 15 * number,
            }
            for k in range(1 if change_type == "hotfix" else 2)
        ]
        if change_type == "hotfix":  # written and merged the same afternoon, unreviewed
            changes[0].update(
                first_commit_at=clock.iso(days_ago, hour - 1.5),
                opened_at=clock.iso(days_ago, hour - 1.2),
                merged_at=clock.iso(days_ago, hour - 0.5),
                reviewed=False,
            )
            del changes[0]["first_review_at"]
        deployment = {
            "type": "deployment",
            "id": f"billing-{number}",
            "repo": "acme/billing",
            "environment": "production",
            "finished_at": clock.iso(days_ago, hour),
            "version": f"2.{number}.0",
            "commit": f"{number:02d}" + COMMITS[0][2:],
            "change_type": change_type,
            "changes": changes,
        }
        if failed:
            deployment["failed"] = True
        lines.append(deployment)
    lines.append(
        {
            "type": "incident",
            "id": "BILL-1",
            "service": "billing-api",
            "severity": "critical",
            "component": "ledger",
            "started_at": clock.iso(20, 15.5),
            "detected_at": clock.iso(20, 15.6),
            "acknowledged_at": clock.iso(20, 15.75),
            "resolved_at": clock.iso(20, 17),
            "deployment": "billing-3",
        }
    )
    lines.append(
        {
            "type": "incident",
            "id": "BILL-2",
            "service": "billing-api",
            "severity": "high",
            "component": "api",
            "started_at": clock.iso(5, 8),
            "acknowledged_at": clock.iso(5, 8.1),
            "resolved_at": clock.iso(5, 8.75),
        }
    )
    # Defects: four this month, two found only in production (escaped), one of those
    # reported by a customer and still open.
    for id_, days_ago, found_in, customer, fixed in (
        ("BILL-B1", 25, "pre-production", False, 24),
        ("BILL-B2", 18, "pre-production", False, 17),
        ("BILL-B3", 12, "production", False, 11),
        ("BILL-B4", 4, "production", True, None),
    ):
        defect = {
            "type": "defect",
            "id": id_,
            "service": "billing-api",
            "severity": "high" if customer else "medium",
            "created_at": clock.iso(days_ago, 10),
            "found_in": found_in,
            "customer_reported": customer,
        }
        if fixed is not None:
            defect["resolved_at"] = clock.iso(fixed, 16)
        lines.append(defect)
    return "".join(json.dumps(line) + "\n" for line in lines)


def coverage(clock: Clock) -> str:
    """Cobertura: two components of billing, api (4 of 5 lines) and ledger (2 of 5)."""
    stamp = int(clock.at(1, 16).timestamp() * 1000)
    files = {"api/handlers.py": [1, 1, 1, 1, 0], "ledger/post.py": [1, 1, 0, 0, 0]}
    classes = "".join(
        f'<class name="{name.rsplit("/", 1)[1]}" filename="{name}" line-rate="0" '
        'branch-rate="0" complexity="0"><methods/><lines>'
        + "".join(f'<line number="{i}" hits="{h}"/>' for i, h in enumerate(hits, 1))
        + "</lines></class>"
        for name, hits in files.items()
    )
    return (
        '<?xml version="1.0" ?>\n'
        f'<coverage version="7.6" timestamp="{stamp}" lines-valid="10" lines-covered="6" '
        'line-rate="0.6" branches-covered="0" branches-valid="0" branch-rate="0" complexity="0">'
        "<sources><source>/builds/acme/billing</source></sources>"
        f'<packages><package name="billing" line-rate="0.6" branch-rate="0" complexity="0">'
        f"<classes>{classes}</classes></package></packages></coverage>\n"
    )


def junit(clock: Clock, commit: str, days_ago: int, outcome: str) -> str:
    """One suite of four tests for ``commit``: ``flaky`` (failed, then passed on a rerun:
    Surefire's flakyFailure) or ``failed`` (a failure)."""
    stamp = clock.at(days_ago, 13).strftime("%Y-%m-%dT%H:%M:%S")
    extra = (
        '<flakyFailure message="timeout waiting for the ledger" type="TimeoutError"/>'
        if outcome == "flaky"
        else '<failure message="rounding: expected 10.01, got 10.00"/>'
    )
    cases = "".join(
        f'<testcase classname="billing.InvoiceTest" name="{name}" time="0.02">'
        f"{extra if name == 'test_tax_rounding' else ''}</testcase>"
        for name in ("test_total", "test_tax_rounding", "test_discount", "test_refund")
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="billing.InvoiceTest" tests="4" '
        f'failures="{1 if outcome == "failed" else 0}" errors="0" skipped="0" time="0.08" '
        f'timestamp="{stamp}"><properties><property name="commit" value="{commit}"/>'
        f"</properties>{cases}</testsuite>\n"
    )


def trivy(clock: Clock, days_ago: int, findings: list[tuple[str, str, str]]) -> str:
    """A Trivy image report of billing's image: (package, vulnerability id, severity)."""
    vulnerabilities = [
        {
            "VulnerabilityID": vid,
            "PkgName": package,
            "InstalledVersion": "1.0.0",
            "FixedVersion": "1.0.1",
            "Severity": severity,
            "Title": f"{package}: sample finding",
        }
        for package, vid, severity in findings
    ]
    report = {
        "SchemaVersion": 2,
        "CreatedAt": clock.iso(days_ago, 6),
        "ArtifactName": "ghcr.io/acme/billing:latest",
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": "ghcr.io/acme/billing:latest (debian 12.8)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": vulnerabilities,
            }
        ],
    }
    return json.dumps(report, indent=1) + "\n"


def focus(clock: Clock) -> str:
    """FOCUS 1.0 rows, one per day and service for the last 40 complete days: compute at 85
    USD a day and storage at 30 USD a day for billing (team payments)."""
    columns = [
        "BilledCost",
        "BillingCurrency",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ChargeCategory",
        "ProviderName",
        "ServiceName",
        "Tags",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    tags = json.dumps({"app": "billing", "team": "payments"})
    for days_ago in range(40, 0, -1):
        for service, amount in (("Compute", "85.00"), ("Storage", "30.00")):
            start = clock.at(days_ago).strftime("%Y-%m-%d %H:%M:%S")
            end = clock.at(days_ago - 1).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([amount, "USD", start, end, "Usage", "AWS", service, tags])
    return out.getvalue()


def survey(clock: Clock) -> str:
    """Answers of two teams: the platform NPS (0..10) and build speed (1..5)."""
    day = clock.at(7).strftime("%Y-%m-%d")
    rows = [("team", "question", "score", "date")]
    answers = {
        "payments": {"platform_nps": [9, 10, 8, 6, 9], "build_speed": [4, 3, 4, 5, 3]},
        "discovery": {"platform_nps": [7, 9, 5, 9, 10, 8], "build_speed": [2, 3, 3, 2, 4, 3]},
    }
    for team, questions in answers.items():
        for question, scores in questions.items():
            rows += [(team, question, str(score), day) for score in scores]
    return "".join(",".join(row) + "\n" for row in rows)


def files(today: date) -> dict[str, str]:
    """File name -> content of every sample, dated relative to ``today``."""
    clock = Clock(today)
    return {
        "events.jsonl": events(clock),
        "coverage.xml": coverage(clock),
        "junit-1.xml": junit(clock, COMMITS[0], 3, "flaky"),
        "junit-2.xml": junit(clock, COMMITS[1], 1, "failed"),
        # A critical and a high finding 40 days ago, another critical 10 days ago; the
        # first critical fixed yesterday (39 days to fix). Left open: the high past its
        # 30-day SLA and the second critical past its 7-day SLA.
        "trivy-1.json": trivy(
            clock, 40, [("openssl", "CVE-2026-0001", "CRITICAL"), ("zlib", "CVE-2026-0002", "HIGH")]
        ),
        "trivy-2.json": trivy(
            clock,
            10,
            [
                ("openssl", "CVE-2026-0001", "CRITICAL"),
                ("zlib", "CVE-2026-0002", "HIGH"),
                ("libxml2", "CVE-2026-0003", "CRITICAL"),
            ],
        ),
        "trivy-3.json": trivy(
            clock,
            1,
            [
                ("zlib", "CVE-2026-0002", "HIGH"),
                ("libxml2", "CVE-2026-0003", "CRITICAL"),
                ("curl", "CVE-2026-0004", "MEDIUM"),
            ],
        ),
        "focus.csv": focus(clock),
        "survey.csv": survey(clock),
    }


def write(out: Path, today: date) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files(today).items():
        path = out / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date())
    parser.add_argument("--out", type=Path, default=HERE / "samples")
    args = parser.parse_args()
    for path in write(args.out, args.today):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
