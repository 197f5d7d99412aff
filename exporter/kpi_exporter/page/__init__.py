"""The KPI page at ``/``: the headline numbers per team and for the organisation, then the
sources and their status.

Server-rendered HTML with no script and no external asset: one ``<style>`` element allowed by
its hash in the Content-Security-Policy, charts as inline SVG. The numbers come from
:mod:`kpi_exporter.page.headlines`; the thresholds and actions from the catalogue, rendered
into ``thresholds.json`` by ``kpi-exporter render``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import time
from importlib import resources
from typing import Any

from .. import __version__
from ..health import Health
from .headlines import QUADRANTS, Headlines, Row, Scope, format_value

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}"
    "h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.25em;margin:1.2em 0 .4em}"
    "h3{font-size:1em;margin:.2em 0 .4em}nav a,p a{margin-right:.8em}"
    ".meta{color:#59636e}.grid{display:grid;gap:1em;"
    "grid-template-columns:repeat(auto-fit,minmax(46em,1fr))}"
    ".quadrant{border:1px solid #d1d9e0;border-radius:6px;padding:.6em .8em;overflow-x:auto}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{padding:.3em .5em;text-align:left;vertical-align:top}"
    "thead th{font-weight:600;color:#59636e;border-bottom:1px solid #d1d9e0}"
    "tbody th{font-weight:500}.num{font-weight:600;font-variant-numeric:tabular-nums}"
    ".trend{display:block;font-size:.8em;color:#59636e}"
    ".better{color:#1a7f37}.worse{color:#cf222e}"
    ".status{font-size:.8em;border-radius:1em;padding:.1em .6em;white-space:nowrap}"
    ".crossed .status{background:#ffebe9;color:#a40e26}"
    ".over .status{background:#fff8c5;color:#7d4e00}"
    ".ok .status{background:#dafbe1;color:#116329}"
    ".none .status{background:#f6f8fa;color:#59636e}"
    "tr.crossed>th{border-left:4px solid #cf222e}tr.over>th{border-left:4px solid #bf8700}"
    "tr.ok>th{border-left:4px solid #1a7f37}tr.none>th{border-left:4px solid #d1d9e0}"
    ".action td{font-size:.85em;background:#fff5f5;border-left:4px solid #cf222e}"
    ".threshold{font-size:.8em;color:#59636e}"
    "svg.chart{display:block}svg.chart polyline{fill:none;stroke:#0969da;stroke-width:1.5}"
    "svg.chart line{stroke:#cf222e;stroke-dasharray:3 2;stroke-width:1}"
    "svg.chart circle{fill:#0969da}"
    ".sources td,.sources th{border-bottom:1px solid #eef1f4}"
    ".up{color:#1a7f37}.down{color:#cf222e}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""No script at all, the one ``<style>`` by its hash, the data: favicon; nothing else loads."""

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STATUS_TEXT = {
    "crossed": "crossed",
    "over": "over, few deployments",
    "ok": "within",
    "none": "no data",
}
CHART_WIDTH, CHART_HEIGHT = 120, 28
LISTED_APPS = 30


@functools.cache
def thresholds() -> dict[str, Any]:
    """The page's thresholds and actions (``thresholds.json``, written by ``render``)."""
    text = resources.files(__package__).joinpath("thresholds.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def render(headlines: Headlines, health: Health) -> str:
    """The whole page as HTML."""
    rendered_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(headlines.now))
    windows = ", ".join(window for window, _ in headlines.windows)
    nav = " ".join(
        f'<a href="#scope-{i}">{html.escape(_scope_name(scope))}</a>'
        for i, scope in enumerate(headlines.scopes)
    )
    scopes = "\n".join(_scope(i, scope, headlines) for i, scope in enumerate(headlines.scopes))
    partial = (
        "<p class='meta'>This process is one shard: its numbers cover its own apps only;"
        " the dashboards add up every shard.</p>"
        if not headlines.exact
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kpi-exporter: engineering KPIs</title><link rel="icon" href="data:,">
<style>{STYLE}</style></head>
<body><header><h1>Engineering KPIs</h1>
<p class="meta">kpi-exporter {html.escape(__version__)} &middot; as of {rendered_at}, the
values of <a href="/metrics">/metrics</a> &middot; windows {html.escape(windows)} by event
time; under each value its trend against the window before &middot; charts: the shortest
window at weekly steps over a quarter, oldest first</p>
<nav>{nav} <a href="#sources">Sources</a></nav>{partial}</header>
<main>
{scopes}
<h2 id="sources">Sources</h2>
<p><a href="/metrics">Metrics</a> &middot; <a href="/healthz">Health</a> &middot;
<a href="/readyz">Readiness</a></p>
{sources_table(health)}
</main></body></html>
"""


def _scope_name(scope: Scope) -> str:
    return f"Team {scope.team}" if scope.team else "Organisation"


def _scope(index: int, scope: Scope, headlines: Headlines) -> str:
    # The organisation of hundreds of apps: their number, not a wall of names.
    apps = ", ".join(scope.apps) if len(scope.apps) <= LISTED_APPS else f"{len(scope.apps):,}"
    apps = apps or "none"
    quadrants = []
    for quadrant in QUADRANTS:
        rows = [row for row in scope.rows if row.spec.quadrant == quadrant]
        quadrants.append(_quadrant(quadrant, rows, headlines))
    return (
        f'<section class="scope" id="scope-{index}" data-team="{html.escape(scope.team)}">'
        f"<h2>{html.escape(_scope_name(scope))}</h2>"
        f'<p class="meta">Apps: {html.escape(apps)}</p>'
        f'<div class="grid">{"".join(quadrants)}</div></section>'
    )


def _quadrant(title: str, rows: list[Row], headlines: Headlines) -> str:
    windowed = any(row.windows for row in rows)
    if windowed:
        heads = "".join(f"<th>{html.escape(w)}</th>" for w, _ in headlines.windows)
        heads += f"<th>{html.escape(headlines.windows[0][0])}, weekly</th>"
    else:
        heads = "<th>Now</th>"
    body = []
    columns = 3 + (len(headlines.windows) + 1 if windowed else 1)
    for row in rows:
        cells = _window_cells(row) if windowed else _gauge_cell(row)
        body.append(
            f'<tr class="{row.status}" data-kpi="{row.spec.key}"><th>{html.escape(row.spec.title)}'
            f"</th>{cells}<td class='threshold'>{html.escape(row.threshold or '-')}</td>"
            f"<td><span class='status'>{_status(row)}</span></td></tr>"
        )
        if row.action:
            body.append(
                f"<tr class='action'><td colspan='{columns}'><strong>Action:</strong> "
                f"{html.escape(row.action)}</td></tr>"
            )
    return (
        f'<section class="quadrant"><h3>{html.escape(title)}</h3><table><thead><tr><th>KPI</th>'
        f"{heads}<th>Threshold</th><th>Status</th></tr></thead><tbody>{''.join(body)}"
        "</tbody></table></section>"
    )


def _status(row: Row) -> str:
    if row.spec.unit == "money" and not any(budget for _, _, budget in row.budget):
        return "no budget"
    return STATUS_TEXT[row.status] if row.threshold else "no threshold"


def _number(row: Row, value: float | None, window: str = "", currency: str = "") -> str:
    attributes = f' data-value="{value!r}"' if value is not None else ""
    if window:
        attributes += f' data-window="{window}"'
    if currency:
        attributes += f' data-currency="{html.escape(currency)}"'
    return f'<span class="num"{attributes}>{format_value(value, row.spec.unit)}</span>'


def _window_cells(row: Row) -> str:
    cells = []
    for window in row.windows:
        trend = _trend(row, window.value, window.previous)
        count = ""
        if row.spec.kind == "ratio" and window.count:
            count = f"<span class='trend'>of {window.count:g} deployments</span>"
        cells.append(f"<td>{_number(row, window.value, window.window)}{count}{trend}</td>")
    cells.append(f"<td>{_chart(row)}</td>")
    return "".join(cells)


def _trend(row: Row, value: float | None, previous: float | None) -> str:
    if value is None and previous is None:
        return ""
    if previous is None:
        return "<span class='trend'>new</span>"
    before = format_value(previous, row.spec.unit)
    if value is None:
        return f"<span class='trend'>was {before}</span>"
    if value == previous:
        return "<span class='trend'>&#8594; same</span>"
    rising = value > previous
    better = rising != row.spec.lower
    arrow = "&#9650;" if rising else "&#9660;"
    return (
        f"<span class='trend {'better' if better else 'worse'}'>{arrow} from {before}"
        f"{change_text(value, previous)}</span>"
    )


def change_text(value: float, previous: float) -> str:
    """`` (+25%)`` relative to the previous value; empty when it was 0."""
    if not previous:
        return ""
    return f" ({(value - previous) / abs(previous) * 100:+.0f}%)"


def _gauge_cell(row: Row) -> str:
    if row.spec.unit != "money":
        return f"<td>{_number(row, row.value)}</td>"
    if not row.budget:
        return "<td>-</td>"
    parts = []
    for currency, spend, budget in row.budget:
        line = f"{_number(row, spend, currency=currency)} {html.escape(currency)}"
        if budget:
            line += (
                f" <span class='trend'>of {budget:,.2f} budget ({spend / budget * 100:.0f}%)</span>"
            )
        parts.append(line)
    return f"<td>{'<br>'.join(parts)}</td>"


def _chart(row: Row) -> str:
    """The short window at weekly steps as a line; the alert's threshold dashed when it is
    in the chart's range."""
    points = [(i, v) for i, v in enumerate(row.chart) if v is not None]
    if len(points) < 2:
        return "<span class='meta'>-</span>"
    values = [v for _, v in points]
    low, high = min(0.0, *values), max(values)
    top = high if high > low else low + 1
    step = CHART_WIDTH / max(1, len(row.chart) - 1)

    def y(value: float) -> float:
        return round(CHART_HEIGHT - 2 - (value - low) / (top - low) * (CHART_HEIGHT - 4), 1)

    # A gap (a week without data) breaks the line.
    lines: list[list[str]] = []
    current: list[str] = []
    for i, value in enumerate(row.chart):
        if value is None:
            if current:
                lines.append(current)
            current = []
        else:
            current.append(f"{round(i * step, 1)},{y(value)}")
    if current:
        lines.append(current)
    shapes = "".join(
        f'<polyline points="{" ".join(line)}"/>'
        if len(line) > 1
        else f'<circle cx="{line[0].split(",")[0]}" cy="{line[0].split(",")[1]}" r="1.5"/>'
        for line in lines
    )
    label = ", ".join(format_value(v, row.spec.unit) for v in row.chart)
    return (
        f'<svg class="chart" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img">'
        f"<title>{html.escape(row.spec.title)}, oldest first: {html.escape(label)}</title>"
        f"{shapes}</svg>"
    )


def sources_table(health: Health) -> str:
    """Every source, its status and last success. No secret is ever shown: source errors
    are written without credentials by the sources themselves."""
    rows = []
    for source in sorted(health.snapshot(), key=lambda s: s.name):
        status = ("up" if source.up else "down") if source.polled else "not polled yet"
        last = (
            time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(source.last_success))
            if source.last_success
            else "never"
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(source.name)}</td><td>{html.escape(source.type)}</td>"
            f"<td class='{status.split()[0]}'>{status}</td><td>{last}</td>"
            f"<td>{html.escape(source.last_error)}</td>"
            "</tr>"
        )
    table = "\n".join(rows) or "<tr><td colspan='5'>no sources configured</td></tr>"
    return (
        "<table class='sources'><thead><tr><th>Source</th><th>Type</th><th>Status</th>"
        f"<th>Last success</th><th>Last error</th></tr></thead>\n<tbody>\n{table}\n"
        "</tbody></table>"
    )
