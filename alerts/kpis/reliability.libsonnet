// Reliability seen by external monitoring: how many monitors (Datadog, the datadog source with
// `monitors: true`) each app has in each overall state. The SLOs kept outside Prometheus are
// recorded by lib/slo.libsonnet (group slo-external), next to the Prometheus SLOs.
function(config)
  local records = (import '../lib/records.libsonnet')(config);

  [
    {
      name: 'monitors',
      title: 'Monitors by state',
      unit: 'monitors',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'The monitors of an external monitoring system (Datadog) per app and overall'
               + ' state (OK, Alert, Warn, No Data, ...), as of the last poll. No alert is'
               + ' derived: the monitoring system notifies on its own monitors.',
      definition: 'sources.md#datadog',
      group: 'kpi-monitors',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_monitors:sum',
        'team:kpi_monitors:sum',
        'org:kpi_monitors:sum',
      ],
      records: records.sums('kpi_monitors', ['state']),
      alerts: [],
    },
  ]
