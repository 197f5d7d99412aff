"""Performance measurements (``make bench``): each module prints its figures."""

# The source registry first: a benchmark that imports a source module (or the server, which
# imports the ingest source) before it would find that module half-initialised when the
# registry loads every source type.
import kpi_exporter.sources.registry  # noqa: F401
