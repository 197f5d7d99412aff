// Team: one team's flow. Cycle time by stage, change size, work in progress (changes and work
// items) against the team's limits, the queues work items wait in, the review queue,
// deployments and incidents.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local S = k.short;
  local L = k.long;
  local m = g.matchers();
  local t = g.matchers(['team']);
  local raw = g.matchers(['team', 'app', 'environment']);
  local stage(name, family) = g.target('team:%s:p50_%s{%s}' % [family, S, t], name);
  g.dashboard(
    uid='kpi-team',
    title='KPI / Team flow',
    description="One team's flow: where changes wait (coding, pickup, review, deploy), their"
                + ' size, work in progress against the limit, the review queue, deployments'
                + ' and incidents.',
    tags=['team'],
    time='now-' + k.long,
    single=['team'],
    panels=[
      g.row('Flow'),
      k.panel('timeseries', 'change_lead_time', [
        stage('coding', 'kpi_change_coding_seconds'),
        stage('pickup', 'kpi_change_pickup_seconds'),
        stage('review', 'kpi_change_review_seconds'),
        stage('deploy', 'kpi_change_deploy_seconds'),
      ], title='Cycle time by stage, median (%s)' % S, w=16, stack=true),
      k.panel('stat', 'change_lead_time',
              [g.target('team:kpi_change_lead_time_seconds:p50_%s{%s}' % [S, t], 'median')],
              title='Change lead time, median (%s)' % S, w=8, h=8),
      k.panel('timeseries', 'change_size', [
        g.target('app:kpi_change_size_lines:p50_%s{%s}' % [S, m], '{{app}} median'),
        g.target('app:kpi_change_size_lines:p75_%s{%s}' % [S, m], '{{app}} p75'),
        g.target('app:kpi_change_size_lines:p90_%s{%s}' % [S, m], '{{app}} p90'),
      ], title='Pull request size (%s)' % S, w=12),
      k.panel('timeseries', 'work_in_progress', [
        g.target('team:kpi_changes_open:sum{%s}' % t, 'open changes'),
        g.target('team:kpi_changes_open:wip_limit{%s}' % t, 'WIP limit'),
      ], title='Work in progress against its limit', w=12),
      k.panel('timeseries', 'work_items_in_progress', [
        g.target('team:kpi_work_items_in_progress:sum{%s}' % t, 'work items in progress'),
        g.target('team:kpi_work_items_in_progress:wip_limit{%s}' % t, 'WIP limit'),
      ], title='Work items in progress against the limit', w=12),
      k.panel('bargauge', 'work_item_queues',
              [g.target('team:kpi_work_items_wait_share:ratio_%s{%s}' % [k.long, t], '{{status}}',
                        instant=true)],
              title='Share of the lead time waiting, by status (%s)' % k.long,
              alert='QueueShareRising', w=12)
      + { fieldConfig+: { defaults+: { unit: 'percentunit' } } },
      g.row('Review queue'),
      k.panel('bargauge', 'work_in_progress',
              [g.target('sum by (older_than) (app:kpi_changes_open_by_age:sum{%s})' % m,
                        'older than {{older_than}}', instant=true)],
              title='Open changes by age', alert='ChangesOpenTooLong', w=12),
      k.panel('stat', 'change_pickup_time',
              [g.target('team:kpi_change_pickup_seconds:p50_%s{%s}' % [S, t], 'median')],
              title='Pickup time, median (%s)' % S, w=6, h=8),
      k.panel('stat', 'changes_merged',
              [g.target('sum(app:kpi_changes_merged_unreviewed:increase_%s{%s}) / sum(app:kpi_changes_merged:increase_%s{%s})'
                        % [S, m, S, m], 'unreviewed')],
              title='Merged without review (%s)' % S, w=6, h=8)
      + { fieldConfig+: { defaults+: {
        unit: 'percentunit',
        thresholds: k.thresholds('changes_merged') + { steps: [
          { color: 'green', value: null },
          { color: 'red', value: k.config.alerts.UnreviewedMergesHigh.threshold },
        ] },
      } } },
      g.row('Deployments and incidents'),
      k.panel('timeseries', 'deployment_frequency',
              [g.target('sum by (app) (increase(kpi_deployments_total{%s}[$__rate_interval]))' % raw, '{{app}}')],
              title='Production deployments', w=12, stack=true)
      + { fieldConfig+: { defaults+: { custom+: { drawStyle: 'bars' } } } },
      k.panel('timeseries', 'incidents',
              [g.target('sum by (severity) (increase(kpi_incidents_total{%s}[$__rate_interval]))' % raw, '{{severity}}')],
              title='Incidents by severity', w=12, stack=true)
      + { fieldConfig+: { defaults+: { custom+: { drawStyle: 'bars' } } } },
      // Withheld (no data) while the team merged fewer than origins.min_changes changes in
      // the window.
      g.row('Where changes come from (%s)' % L),
      k.panel('bargauge', 'changes_by_origin',
              [g.target('team:kpi_changes_merged_by_origin:share_%s{%s}' % [L, t], '{{origin}}', instant=true)],
              title='Share of merged changes by origin (%s)' % L, w=8),
      k.panel('stat', 'changes_by_origin',
              [g.target('team:kpi_changes_merged_by_origin:increase_%s{%s, origin="bot"}' % [L, t], 'bot changes')],
              title="Bots' merged changes, counted apart (%s)" % L, w=4, h=8)
      + { fieldConfig+: { defaults+: { unit: 'none' } } },
      k.panel('timeseries', 'change_review_time',
              [g.target('team:kpi_change_review_seconds_by_origin:p50_%s{%s}' % [L, t], '{{origin}}')],
              title='Review time by origin, median (%s)' % L, w=12),
      k.panel('timeseries', 'changes_by_origin',
              [g.target('team:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_%s{%s}' % [L, t],
                        '{{origin}}')],
              title='Merged with no human review, by origin (%s)' % L,
              alert='AiAgentChangesUnreviewed', w=12),
      k.panel('timeseries', 'changes_by_origin',
              [g.target('team:kpi_changes_reverted_per_changes_merged_by_origin:ratio_%s{%s}' % [L, t],
                        '{{origin}}')],
              title='Reverted since, by origin (%s)' % L, alert='AiAgentRevertRateHigh', w=12),
    ],
  )
