// Delivery: the DORA metrics in detail over the short window, one line per team when All
// teams are selected and per app of the picked teams or apps otherwise (`breakdown` in
// lib/grafana.libsonnet), and the DORA tier of each app and metric.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local S = k.short;
  local L = k.long;
  local m = g.matchers();
  local lines(metric, legend='{{team}} {{app}}') = [g.target(g.breakdown(metric), legend)];
  g.dashboard(
    uid='kpi-delivery',
    title='KPI / Delivery (DORA)',
    description='The four DORA metrics and rework rate per team (All teams) or per app of the'
                + ' picked teams or apps, and the DORA tier of each app and metric (report %s).'
                % k.config.dora_report,
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
              lines('kpi_deployments:per_day_' + S),
              title='Deployments per day (%s)' % S, w=8),
      k.panel('timeseries', 'deployment_frequency',
              lines('kpi_deployments:deploy_days_7d'),
              title='Deploy days (last 7 days)', w=8)
      + { fieldConfig+: { defaults+: { unit: 'none', max: 7, thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'change_lead_time', [
        g.target(g.breakdown('kpi_change_lead_time_seconds:p50_' + S), '{{team}} {{app}} median'),
        g.target(g.breakdown('kpi_change_lead_time_seconds:p75_' + S), '{{team}} {{app}} p75'),
        g.target(g.breakdown('kpi_change_lead_time_seconds:p90_' + S), '{{team}} {{app}} p90'),
      ], title='Change lead time (%s)' % S, w=8),
      k.panel('timeseries', 'change_failure_rate',
              lines('kpi_deployments_failed_per_deployments:ratio_' + S),
              title='Change failure rate (%s)' % S, w=8),
      k.panel('timeseries', 'rework_rate',
              lines('kpi_deployments_rework_per_deployments:ratio_' + S),
              title='Rework rate (%s)' % S, w=8),
      k.panel('timeseries', 'failed_deployment_recovery_time', [
        g.target(g.breakdown('kpi_failed_deployment_recovery_seconds:p50_' + S), '{{team}} {{app}} median'),
        g.target(g.breakdown('kpi_failed_deployment_recovery_seconds:p75_' + S), '{{team}} {{app}} p75'),
        g.target(g.breakdown('kpi_failed_deployment_recovery_seconds:p90_' + S), '{{team}} {{app}} p90'),
      ], title='Failed deployment recovery time (%s)' % S, w=8),
      // Where changes come from, per team (All) or per app of the picked teams or apps; a
      // team under origins.min_changes merged changes in the window shows none.
      g.row('Where changes come from (%s)' % L),
      k.panel('timeseries', 'changes_by_origin',
              [g.target(g.breakdown('kpi_changes_merged_by_origin:share_' + L), '{{team}} {{app}} {{origin}}')],
              title='Share of merged changes by origin (%s)' % L, w=12),
      k.panel('timeseries', 'changes_by_origin',
              [g.target(g.breakdown('kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_' + L),
                        '{{team}} {{app}} {{origin}}')],
              title='Merged with no human review, by origin (%s)' % L,
              alert='AiAgentChangesUnreviewed', w=12),
      k.panel('timeseries', 'changes_by_origin',
              [g.target(g.breakdown('kpi_changes_reverted_per_changes_merged_by_origin:ratio_' + L),
                        '{{team}} {{app}} {{origin}}')],
              title='Reverted since, by origin (%s)' % L, w=12),
      k.panel('timeseries', 'change_review_time',
              [g.target(g.breakdown('kpi_change_review_seconds_by_origin:p50_' + L),
                        '{{team}} {{app}} {{origin}}')],
              title='Review time by origin, median (%s)' % L, w=12),
    ],
  )
