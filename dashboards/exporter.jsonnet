// Exporter health: are the sources polled, how stale is the data, how much API budget is
// left. The exporter's own series carry `source`, not app or team.
local duration = import '../alerts/lib/duration.libsonnet';
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local job = k.config.selectors.exporter;
  local runbook(alert) = [g.link('Runbook: ' + alert, k.config.runbook_url % alert)];
  local stale = duration.seconds(k.config.alerts.KpiExporterDataStale.threshold);
  g.dashboard(
    uid='kpi-exporter-health',
    title='KPI / Exporter health',
    description="kpi-exporter's own health: sources up, staleness, poll duration, API"
                + ' requests and rate-limit budget, events stored and rejected.',
    tags=['operations', 'exporter'],
    time='now-24h',
    panels=[
      k.panel('table', 'exporter_health', [
        g.target('kpi_exporter_source_up{%s}' % job, '', instant=true),
        g.target('time() - kpi_exporter_source_last_success_timestamp_seconds{%s}' % job, '', instant=true),
      ], title='Sources: up (A) and seconds since the last success (B)', w=12)
      + { fieldConfig+: { defaults+: {
        unit: 'none',
        mappings: [{ type: 'value', options: { '0': { text: 'down', color: 'red', index: 0 }, '1': { text: 'up', color: 'green', index: 1 } } }],
      }, overrides: [{
        matcher: { id: 'byName', options: 'Value #B' },
        properties: [
          { id: 'unit', value: 's' },
          { id: 'mappings', value: [] },
          { id: 'thresholds', value: g.thresholds([{ color: 'green', value: null }, { color: 'red', value: stale }]) },
        ],
      }] } },
      g.timeseries('Seconds since the last successful poll',
                   [g.target('time() - kpi_exporter_source_last_success_timestamp_seconds{%s}' % job, '{{source}}')],
                   's', 12, 8, 'Staleness of each source: the dashboards show old numbers until a poll succeeds.',
                   g.thresholds([{ color: 'green', value: null }, { color: 'red', value: stale }]),
                   runbook('KpiExporterDataStale') + runbook('KpiExporterSourceDown')),
      g.timeseries('API requests by status code',
                   [g.target('sum by (source, code) (rate(kpi_exporter_api_requests_total{%s}[$__rate_interval]))' % job,
                             '{{source}} {{code}}')],
                   'reqps', 12, 8, 'Requests to the source APIs; 304 Not Modified are conditional requests that cost no budget.',
                   null, runbook('KpiExporterSourceDown'), stack=true),
      g.timeseries('API rate limit remaining',
                   [g.target('min by (source, resource) (kpi_exporter_api_rate_limit_remaining{%s})' % job,
                             '{{source}} {{resource}}')],
                   'short', 12, 8, "Requests left in each source API's rate-limit window.",
                   g.thresholds([{ color: 'red', value: null }, { color: 'green', value: k.config.alerts.KpiExporterRateLimitLow.threshold }]),
                   runbook('KpiExporterRateLimitLow'), min=0),
      g.timeseries('Poll duration',
                   [g.target('kpi_exporter_source_poll_duration_seconds{%s}' % job, '{{source}}')],
                   's', 12, 8, 'How long the last poll of each source took.'),
      g.timeseries('Events stored',
                   [g.target('sum by (source, kind) (kpi_exporter_events_stored{%s})' % job, '{{source}} {{kind}}')],
                   'short', 12, 8, 'Events in the store by source and kind.', null, runbook('KpiExporterNoEvents')),
      g.timeseries('Failed polls and rejected records',
                   [
                     g.target('sum by (source) (increase(kpi_exporter_source_polls_total{result="failure", %s}[$__rate_interval]))' % job,
                              '{{source}} failed polls'),
                     g.target('sum by (source) (increase(kpi_exporter_events_rejected_total{%s}[$__rate_interval]))' % job,
                              '{{source}} rejected'),
                   ],
                   'short', 12, 8, 'Polls that failed and input records skipped as invalid.', null,
                   runbook('KpiExporterSourceDown') + runbook('KpiExporterEventsRejected')),
      g.stat('Running version', [g.target('count by (version) (kpi_exporter_build_info{%s})' % job, '{{version}}')],
             'none', 12, 8, 'Exporter processes per version (more than one version: a rollout in progress).',
             g.thresholds([{ color: 'blue', value: null }]), runbook('KpiExporterAbsent')),
    ],
  )
