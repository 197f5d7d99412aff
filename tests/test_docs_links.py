"""Every relative link of the README and docs/ leads to a file of the repository (and, with an
anchor into a Markdown file, to one of its headings); the getting-started scrape config keeps
the job name the rules select."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kpi_exporter.render import bundle

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_relative_links_resolve() -> None:
    broken = []
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve()
            if not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_getting_started_scrape_config_uses_the_job_the_rules_select() -> None:
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n# prometheus.yml\n(.*?)```", text, re.S)
    assert block is not None
    config = yaml.safe_load(block.group(1))
    selector = bundle.evaluate("config.libsonnet")["selectors"]["exporter"]
    assert selector == f'job="{config["scrape_configs"][0]["job_name"]}"'
    rule_files = [Path(path).name for path in config["rule_files"]]
    rendered = sorted(path.name for path in (ROOT / "alerts" / "rendered").glob("*.yaml"))
    assert sorted(rule_files) == rendered
