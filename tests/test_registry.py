"""The source registry: every source type with its model, and the configuration, the docs and
check-config built from it."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

from kpi_exporter.config import SOURCE_TYPES, Config
from kpi_exporter.sources import registry
from kpi_exporter.sources.aws_cost import AwsCostSource
from kpi_exporter.sources.azure_monitor import AzureMonitorSource
from kpi_exporter.sources.coverage import CoverageSource
from kpi_exporter.sources.datadog import DatadogSource
from kpi_exporter.sources.defender import DefenderSource
from kpi_exporter.sources.events_file import EventsFileSource
from kpi_exporter.sources.focus import FocusSource
from kpi_exporter.sources.git import GitSource
from kpi_exporter.sources.github.config import GitHubSource
from kpi_exporter.sources.github_coverage import GitHubCoverageSource
from kpi_exporter.sources.github_issues import GitHubIssuesSource
from kpi_exporter.sources.github_security import GitHubSecuritySource
from kpi_exporter.sources.gitlab import GitLabSource
from kpi_exporter.sources.gitlab_issues import GitLabIssuesSource
from kpi_exporter.sources.http_json import HttpJsonSource
from kpi_exporter.sources.ingest import IngestSource
from kpi_exporter.sources.jira import JiraSource
from kpi_exporter.sources.jsm_ops import JsmOpsSource
from kpi_exporter.sources.junit import JUnitSource
from kpi_exporter.sources.linear import LinearSource
from kpi_exporter.sources.opencost import OpenCostSource
from kpi_exporter.sources.opsgenie import OpsgenieSource
from kpi_exporter.sources.pagerduty import PagerDutySource
from kpi_exporter.sources.qualys import QualysSource
from kpi_exporter.sources.scan_reports import ScanReportSource
from kpi_exporter.sources.snyk import SnykSource
from kpi_exporter.sources.sonarqube import SonarQubeSource
from kpi_exporter.sources.sql import SqlSource
from kpi_exporter.sources.survey import SurveySource

ROOT = Path(__file__).resolve().parent.parent

# Every source type with its model, in the order of the configuration union.
EXPECTED = {
    "git": GitSource,
    "events_file": EventsFileSource,
    "ingest": IngestSource,
    "github": GitHubSource,
    "gitlab": GitLabSource,
    "jira": JiraSource,
    "pagerduty": PagerDutySource,
    "opsgenie": OpsgenieSource,
    "jsm_ops": JsmOpsSource,
    "coverage": CoverageSource,
    "junit": JUnitSource,
    "sonarqube": SonarQubeSource,
    "github_security": GitHubSecuritySource,
    "github_issues": GitHubIssuesSource,
    "gitlab_issues": GitLabIssuesSource,
    "linear": LinearSource,
    "github_coverage": GitHubCoverageSource,
    "scan_report": ScanReportSource,
    "snyk": SnykSource,
    "defender": DefenderSource,
    "qualys": QualysSource,
    "datadog": DatadogSource,
    "azure_monitor": AzureMonitorSource,
    "http_json": HttpJsonSource,
    "sql": SqlSource,
    "survey": SurveySource,
    "focus": FocusSource,
    "opencost": OpenCostSource,
    "aws_cost": AwsCostSource,
}


def test_the_registry_lists_every_source_type_with_its_model() -> None:
    assert [(kind.name, kind.model) for kind in registry.TYPES] == list(EXPECTED.items())
    assert registry.BY_NAME["gitlab"].model is GitLabSource


def test_each_model_is_tagged_with_its_registered_type() -> None:
    for kind in registry.TYPES:
        assert kind.model.model_fields["type"].annotation == typing.Literal[kind.name]


def test_only_the_ingest_endpoint_is_pushed() -> None:
    assert [kind.name for kind in registry.TYPES if kind.pushed] == ["ingest"]


def test_the_configuration_accepts_exactly_the_registered_types() -> None:
    assert tuple(EXPECTED) == SOURCE_TYPES
    schema = Config.model_json_schema()
    tags = schema["properties"]["sources"]["items"]["discriminator"]["mapping"]
    assert sorted(tags) == sorted(EXPECTED)


def test_every_registered_type_has_a_row_in_docs_sources() -> None:
    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `([\w/.]+)` \|", text, re.M)
    assert [name for name, _ in rows] == [kind.name for kind in registry.TYPES]
    for name, module in rows:
        assert (ROOT / "exporter" / "kpi_exporter" / "sources" / module).exists(), name


def test_every_registered_type_has_a_section_in_docs_sources() -> None:
    """Beyond its row: a heading that names the type, where its configuration is shown."""
    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    headings = " ".join(re.findall(r"^#{2,3} .*$", text, re.M))
    missing = [kind.name for kind in registry.TYPES if f"`{kind.name}`" not in headings]
    assert not missing, f"docs/sources.md has no section for {missing}"


def test_any_source_module_imports_first() -> None:
    """A test imports its source module before anything else: the registry loads on first
    use, so the module is not asked for its SOURCE_TYPE before it declares it."""
    modules = [f"kpi_exporter.sources.{module}" for module in registry.MODULES]
    script = (
        "import importlib, sys\n"
        "importlib.import_module(sys.argv[1])\n"
        "from kpi_exporter.sources import registry\n"
        "print(len(registry.TYPES))\n"
    )
    for module in modules:
        done = subprocess.run(
            [sys.executable, "-c", script, module], capture_output=True, text=True, check=False
        )
        assert (module, done.stderr[-300:], done.stdout) == (
            module,
            "",
            f"{len(registry.MODULES)}\n",
        )
