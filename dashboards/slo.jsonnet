// SLOs: error budget remaining and burn rates of the SLOs of the configuration (`slos`),
// with the burn-rate windows of its alerts (`slo_alerts`); the SLOs kept outside Prometheus
// (the datadog and azure_monitor sources) show in the budget and objectives panels (records
// of slo-external), the Application Insights components' availability, failed requests and
// p95 response time in their own panels, and the Datadog monitors by state.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local m = g.matchers();
  local windows = std.set(std.flattenArrays([
    [w.long for w in alert.windows]
    for alert in std.objectValues(k.config.slo_alerts)
    if alert.enabled
  ]));
  local runbook = [g.link('Runbook: ErrorBudgetBurn', k.config.runbook_url % 'ErrorBudgetBurn')];
  // A burn rate of 1 spends the budget exactly over the SLO window.
  local burn = g.thresholds([{ color: 'green', value: null }, { color: 'red', value: 1 }]);
  g.dashboard(
    uid='kpi-slo',
    title='KPI / SLOs',
    description='Error budget remaining and burn rates of the service level objectives'
                + ' configured in alerts/config.libsonnet (`slos`), and the budget and SLI of'
                + ' those kept outside Prometheus (the datadog and azure_monitor sources; no burn'
                + ' rates); the Application Insights components and the Datadog monitors.',
    tags=['domain', 'slo'],
    panels=[
      g.bargauge('Error budget remaining', [g.target('slo:error_budget_remaining:ratio{%s}' % m, '{{slo}}', instant=true)],
                 'percentunit', 12, 8,
                 'The share of the error budget not spent over the SLO window (below 0: overspent).',
                 g.thresholds([{ color: 'red', value: null }, { color: 'orange', value: 0 }, { color: 'green', value: 0.25 }]),
                 runbook, max=1),
      g.table('Objectives', [
        g.target('slo:objective:ratio{%s}' % m, '', instant=true),
        g.target('1 - slo:sli_error:ratio_rate30d{%s}' % m, '', instant=true),
      ], 'percentunit', 12, 8, 'Each SLO: its objective (A) and what it achieved over 30 days (B).', null, runbook),
      g.timeseries('Burn rate', [
        g.target('slo:burn_rate:ratio_rate%s{%s}' % [w, m], '{{slo}} %s' % w)
        for w in windows
      ], 'short', 24, 9,
                   'How fast each SLO spends its error budget, over the long windows of its'
                   + ' burn-rate alerts: 1 spends it exactly over the SLO window.', burn, runbook),
      g.table('Components (Application Insights)', [
        g.target('slo:component_availability:ratio{%s}' % m, '', instant=true),
        g.target('slo:component_failed_requests:ratio{%s}' % m, '', instant=true),
      ], 'percentunit', 12, 8,
              'Each Application Insights component (the azure_monitor source) over its window:'
              + ' the share of its availability tests that passed (A) and of its requests that'
              + ' failed (B).', null, runbook),
      g.bargauge('Components: response time p95',
                 [g.target('slo:component_response_time:seconds{%s, percentile="95"}' % m, '{{component}} ({{app}})', instant=true)],
                 's', 12, 8,
                 'The 95th percentile of each component\'s request durations over its window.',
                 null, runbook),
      k.panel('timeseries', 'monitors',
              [g.target(g.overall('sum', 'kpi_monitors:sum', by=['state']), '{{state}}')],
              title='Monitors by state (Datadog)', w=24, stack=true),
      g.timeseries('Error ratio (SLI)', [
        g.target('slo:sli_error:ratio_rate%s{%s}' % [w, m], '{{slo}} %s' % w)
        for w in ['5m', '1h']
      ], 'percentunit', 24, 8, 'The share of bad requests of each SLO.', null, runbook),
    ],
  )
