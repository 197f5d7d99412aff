# kpi-exporter container image: `docker build -t kpi-exporter .` from the repository root.
#
# Two stages: the first builds wheels of the package and its dependencies (with a compiler,
# for the dependencies that have no wheel for this platform); the final stage installs only
# those wheels on a slim Python base, with no compiler, no pip cache, and runs as a non-root
# user. The Helm chart (helm/kpi-exporter) runs this image with a read-only root filesystem:
# the store lives on the /data volume.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
# Extras to install: "cost" (Parquet FOCUS files, AWS Cost Explorer), "sql"; comma-separated.
ARG EXTRAS=""
RUN apt-get update \
    && apt-get install --no-install-recommends -y build-essential=12.* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
# The Jsonnet sources the wheel carries, for `kpi-exporter render --thresholds` in the image.
COPY alerts ./alerts
COPY dashboards ./dashboards
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".${EXTRAS:+[$EXTRAS]}"

FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="kpi-exporter" \
      org.opencontainers.image.description="Prometheus exporter of engineering KPIs: DORA, flow, incidents, quality, security and cost" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
# Exactly the wheels the build stage made: the package and its pinned-by-build dependencies.
RUN pip install --no-cache-dir --no-index /wheels/*.whl \
    && rm -rf /wheels \
    && mkdir -p /data /etc/kpi-exporter \
    && chown 65534:65534 /data
# nobody:nogroup, as the Helm chart's securityContext runs it.
USER 65534:65534
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9864
ENTRYPOINT ["kpi-exporter", "run"]
CMD ["--config", "/etc/kpi-exporter/config.yaml", "--web.listen-address", ":9864"]
