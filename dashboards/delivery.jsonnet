// Delivery: the DORA metrics in detail, per app, over both windows, and their tiers.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local S = k.short;
  local L = k.long;
  local m = g.matchers();
  local byApp(expr, legend='{{app}}') = [g.target(expr, legend)];
  g.dashboard(
    uid='kpi-delivery',
    title='KPI / Delivery (DORA)',
    description='The four DORA metrics and rework rate per app, and the DORA tier of each'
                + ' metric (report %s).' % k.config.dora_report,
    tags=['domain', 'delivery', 'dora'],
    panels=[
      g.table('DORA tier per app and metric (%s)' % L,
              [g.target('app:kpi_dora_tier:%s{%s}' % [L, m], '', instant=true)],
              k.kpi('dora_tier').grafana_unit, 24, 8, k.kpi('dora_tier').meaning,
              k.tierThresholds, mappings=k.tierMappings)
      + { transformations: [
        { id: 'labelsToFields', options: { mode: 'columns', valueLabel: 'kpi', keepLabels: ['app', 'team', 'kpi'] } },
        { id: 'merge', options: {} },
        { id: 'organize', options: { excludeByName: { Time: true } } },
      ] },
      k.panel('timeseries', 'deployment_frequency',
              byApp('app:kpi_deployments:per_day_%s{%s}' % [S, m]),
              title='Deployments per day (%s)' % S, w=8),
      k.panel('timeseries', 'deployment_frequency',
              byApp('app:kpi_deployments:deploy_days_7d{%s}' % m),
              title='Deploy days (last 7 days)', w=8)
      + { fieldConfig+: { defaults+: { unit: 'none', max: 7, thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'change_lead_time', [
        g.target('app:kpi_change_lead_time_seconds:p50_%s{%s}' % [S, m], '{{app}} median'),
        g.target('app:kpi_change_lead_time_seconds:p90_%s{%s}' % [S, m], '{{app}} p90'),
      ], title='Change lead time (%s)' % S, w=8),
      k.panel('timeseries', 'change_failure_rate',
              byApp('app:kpi_deployments_failed_per_deployments:ratio_%s{%s}' % [S, m]),
              title='Change failure rate (%s)' % S, w=8),
      k.panel('timeseries', 'rework_rate',
              byApp('app:kpi_deployments_rework_per_deployments:ratio_%s{%s}' % [S, m]),
              title='Rework rate (%s)' % S, w=8),
      k.panel('timeseries', 'failed_deployment_recovery_time', [
        g.target('app:kpi_failed_deployment_recovery_seconds:p50_%s{%s}' % [S, m], '{{app}} median'),
        g.target('app:kpi_failed_deployment_recovery_seconds:p90_%s{%s}' % [S, m], '{{app}} p90'),
      ], title='Failed deployment recovery time (%s)' % S, w=8),
    ],
  )
