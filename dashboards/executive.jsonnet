// Executive: eight numbers over the long window, each with its trend against the previous
// period (the time range is the window, so the stat's change compares the two) and the
// DORA tier. Ratios are recomputed from the summed counts, so they aggregate correctly
// over the selected apps; medians cannot be summed, so those show the slowest app.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local w = k.long;
  local m = g.matchers();
  local ratio(numerator, denominator) =
    'sum(app:%s:increase_%s{%s}) / sum(app:%s:increase_%s{%s})'
    % [numerator, w, m, denominator, w, m];
  g.dashboard(
    uid='kpi-executive',
    title='KPI / Executive',
    description='Six to eight numbers with their trend against the previous period and the'
                + ' DORA tier. Thresholds and colours come from alerts/config.libsonnet.',
    tags=['executive'],
    time='now-' + w,
    panels=[
      k.panel('stat', 'deployment_frequency',
              [g.target('sum(app:kpi_deployments:per_day_%s{%s})' % [w, m], 'deployments per day')],
              title='Deployments per day (%s)' % w),
      k.panel('stat', 'change_lead_time',
              [g.target('max(app:kpi_change_lead_time_seconds:p50_%s{%s})' % [w, m], 'median')],
              title='Change lead time, median (slowest app)'),
      k.panel('stat', 'change_failure_rate',
              [g.target(ratio('kpi_deployments_failed', 'kpi_deployments'), 'failed')],
              title='Change failure rate (%s)' % w),
      k.panel('stat', 'failed_deployment_recovery_time',
              [g.target('max(app:kpi_failed_deployment_recovery_seconds:p50_%s{%s})' % [w, m],
                        'median')],
              title='Failed deployment recovery, median (slowest app)'),
      g.stat(
        'DORA tier (lowest app)',
        [g.target('max(app:kpi_dora_tier:%s{kpi="overall", %s})' % [w, m], 'tier')],
        k.kpi('dora_tier').grafana_unit,
        description=k.kpi('dora_tier').meaning,
        thresholds=k.tierThresholds,
        mappings=k.tierMappings,
        direction='lower',
        trend=true,
      ),
      k.panel('stat', 'defect_escape_rate',
              [g.target(ratio('kpi_defects_escaped', 'kpi_defects'), 'escaped')],
              title='Defect escape rate (%s)' % w),
      k.panel('stat', 'vulnerabilities_open',
              [g.target('sum(app:kpi_vulnerabilities_sla_breached:sum{severity="critical", %s}) or vector(0)' % m,
                        'past SLA')],
              title='Critical findings past their SLA', alert='CriticalVulnerabilityPastSla'),
      k.panel('stat', 'spend',
              [g.target('max(app:kpi_cost_forecast_per_budget:ratio{%s})' % m, 'forecast / budget')],
              title='Month-end forecast / budget (highest app)', alert='SpendForecastOverBudget')
      + { fieldConfig+: { defaults+: { unit: 'percentunit' } } },
    ],
  )
