"""kpi-exporter: engineering KPIs (DORA, flow, incidents, quality, security, cost) for Prometheus."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kpi-exporter")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
