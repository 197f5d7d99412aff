// Delivery: the five DORA metrics in detail over the short window, grouped as the DORA guide
// groups them, throughput (change lead time, deployment frequency, failed deployment recovery
// time) and instability (change fail rate, deployment rework rate); one line per team when All
// teams are selected and per app of the picked teams or apps otherwise (`breakdown` in
// lib/grafana.libsonnet), except the quantiles and the origins, which show the selection's own
// lines (`outline`: the organisation's under All teams, else each picked team's or app's); and
// the DORA tier of each app and metric, labelled as the 2023 or 2024 benchmark it is (the
// 2025 report replaced tiers by team profiles).
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local S = k.short;
  local L = k.long;
  local m = g.matchers();
  local report = k.config.dora_report;
  local lines(metric, legend='{{team}} {{app}}') = [g.target(g.breakdown(metric), legend)];
  g.dashboard(
    uid='kpi-delivery',
    title='KPI / Delivery (DORA)',
    description='The five DORA metrics per team (All teams) or per app of the picked teams or'
                + ' apps (the quantiles and the origins: the organisation, or each picked team'
                + ' or app), grouped as DORA groups them: throughput (change lead time, deployment'
                + ' frequency, failed deployment recovery time) and instability (change fail rate,'
                + ' deployment rework rate); and the DORA tier of each app and metric, the'
                + ' benchmark of the %s report (the 2025 report replaced tiers by team profiles).'
                % report,
    tags=['domain', 'delivery', 'dora'],
    panels=[
      g.table('DORA %s benchmark tier per app and metric (%s)' % [report, L],
              [g.target('app:kpi_dora_tier:%s{%s}' % [L, m], '', instant=true)],
              k.kpi('dora_tier').grafana_unit, 24, 8, k.kpi('dora_tier').meaning,
              k.tierThresholds, mappings=k.tierMappings)
      + { transformations: [
        { id: 'labelsToFields', options: { mode: 'columns', valueLabel: 'kpi', keepLabels: ['app', 'team', 'kpi'] } },
        { id: 'merge', options: {} },
        { id: 'organize', options: { excludeByName: { Time: true } } },
      ] },
      g.row('Throughput: change lead time, deployment frequency, failed deployment recovery time'),
      k.panel('timeseries', 'change_lead_time', [
        g.target(g.outline('kpi_change_lead_time_seconds:p50_' + S), '{{team}} {{app}} median'),
        g.target(g.outline('kpi_change_lead_time_seconds:p75_' + S), '{{team}} {{app}} p75'),
        g.target(g.outline('kpi_change_lead_time_seconds:p90_' + S), '{{team}} {{app}} p90'),
      ], title='Change lead time (%s)' % S, w=6),
      k.panel('timeseries', 'deployment_frequency',
              lines('kpi_deployments:per_day_' + S),
              title='Deployment frequency: deployments per day (%s)' % S, w=6),
      k.panel('timeseries', 'deployment_frequency',
              lines('kpi_deployments:deploy_days_7d'),
              title='Deployment frequency: deploy days (last 7 days)', w=6)
      + { fieldConfig+: { defaults+: { unit: 'none', max: 7, thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'failed_deployment_recovery_time', [
        g.target(g.outline('kpi_failed_deployment_recovery_seconds:p50_' + S), '{{team}} {{app}} median'),
        g.target(g.outline('kpi_failed_deployment_recovery_seconds:p75_' + S), '{{team}} {{app}} p75'),
        g.target(g.outline('kpi_failed_deployment_recovery_seconds:p90_' + S), '{{team}} {{app}} p90'),
      ], title='Failed deployment recovery time (%s)' % S, w=6),
      g.row('Instability: change fail rate, deployment rework rate'),
      k.panel('timeseries', 'change_failure_rate',
              lines('kpi_deployments_failed_per_deployments:ratio_' + S),
              title='Change fail rate (%s)' % S, w=12),
      k.panel('timeseries', 'rework_rate',
              lines('kpi_deployments_rework_per_deployments:ratio_' + S),
              title='Deployment rework rate (%s)' % S, w=12),
      // Where changes come from, for the organisation (All), each picked team or each picked
      // app; under origins.min_changes merged changes in the window, none is shown.
      g.row('Where changes come from (%s)' % L),
      k.panel('timeseries', 'changes_by_origin',
              [g.target(g.outline('kpi_changes_merged_by_origin:share_' + L), '{{team}} {{app}} {{origin}}')],
              title='Share of merged changes by origin (%s)' % L, w=12),
      k.panel('timeseries', 'changes_by_origin',
              [g.target(g.outline('kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_' + L),
                        '{{team}} {{app}} {{origin}}')],
              title='Merged with no human review, by origin (%s)' % L,
              alert='AiAgentChangesUnreviewed', w=12),
      k.panel('timeseries', 'changes_by_origin',
              [g.target(g.outline('kpi_changes_reverted_per_changes_merged_by_origin:ratio_' + L),
                        '{{team}} {{app}} {{origin}}')],
              title='Reverted since, by origin (%s)' % L, w=12),
      k.panel('timeseries', 'change_review_time',
              [g.target(g.outline('kpi_change_review_seconds_by_origin:p50_' + L),
                        '{{team}} {{app}} {{origin}}')],
              title='Review time by origin, median (%s)' % L, w=12),
    ],
  )
