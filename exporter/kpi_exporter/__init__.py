"""kpi-exporter: engineering KPIs for Prometheus.

DORA, flow, incidents, quality, security and cost, from the systems teams already use.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kpi-exporter")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
