// Flow: work items from the issue trackers. Time to market, cycle and lead time, where items
// wait (queues by status) and flow efficiency, work in progress against each team's limit
// and the inventory per status, throughput and the investment mix with the debt share.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local S = k.short;
  local L = k.long;
  local t = g.matchers(['team']);
  local debt = 'category="%s"' % k.config.work.debt_category;
  local active = 'kpi_work_items_active_seconds:increase_' + L;
  local lead = 'kpi_work_items_lead_seconds:increase_' + L;
  local percent() = { fieldConfig+: { defaults+: { unit: 'percentunit' } } };
  // The organisation's quantiles under All teams, else each picked team's or app's (`outline`).
  local quantiles(family, window) = [
    g.target(g.outline('%s:p%s_%s' % [family, q, window]), '{{team}} {{app}} p%s' % q)
    for q in ['50', '75', '90']
  ];
  g.dashboard(
    uid='kpi-flow',
    title='KPI / Flow (work items)',
    description='Work items of the issue trackers: time to market, cycle and lead time, the'
                + ' queues they wait in, flow efficiency, work in progress against the limit, throughput and'
                + ' the investment mix. Never per person.',
    tags=['domain', 'flow', 'work items'],
    panels=[
      k.panel('stat', 'work_item_cycle_time',
              [g.target(g.overall('max', 'kpi_work_item_cycle_time_seconds:p50_' + L), 'median')],
              title='Cycle time, median (%s)' % L),
      k.panel('stat', 'work_item_lead_time',
              [g.target(g.overall('max', 'kpi_work_item_lead_time_seconds:p50_' + L), 'median')],
              title='Lead time, median (%s)' % L),
      k.panel('stat', 'work_item_queues',
              [g.target(g.ratio(active, lead), 'flow efficiency')],
              title='Flow efficiency (%s)' % L),
      k.panel('stat', 'work_items_completed',
              [g.target('(%s) / (%s)' % [g.overall('sum', active, extra=debt), g.overall('sum', active)],
                        'debt share')],
              title='Technical debt share of active time (%s)' % L, alert='TechDebtShareHigh')
      + percent(),
      k.panel('stat', 'work_item_time_to_market',
              [g.target(g.overall('max', 'kpi_work_item_time_to_production_seconds:p50_' + L),
                        'median')],
              title='Time to market, median (%s)' % L, alert='TimeToMarketRising'),
      k.panel('timeseries', 'work_item_time_to_market',
              quantiles('kpi_work_item_time_to_production_seconds', L),
              title='Time to market: asked for to in production (%s)' % L, w=18),
      k.panel('timeseries', 'work_item_cycle_time',
              quantiles('kpi_work_item_cycle_time_seconds', S),
              title='Cycle time (%s)' % S),
      k.panel('timeseries', 'work_item_lead_time',
              quantiles('kpi_work_item_lead_time_seconds', S),
              title='Lead time (%s)' % S),
      k.panel('bargauge', 'work_item_queues',
              [g.target('(%s)\n/ on () group_left ()\n(%s)' % [
                g.overall('sum', 'kpi_work_items_wait_seconds:increase_' + L, by=['status']),
                g.overall('sum', lead),
              ], '{{status}}', instant=true)],
              title='Share of the lead time waiting, by status (%s)' % L, alert='QueueShareRising'),
      k.panel('timeseries', 'work_items_in_progress', [
        g.target(g.perTeam('kpi_work_items_in_progress:sum'), '{{team}} in progress'),
        g.target('team:kpi_work_items_in_progress:wip_limit{%s}' % t, '{{team}} WIP limit'),
      ], title='Work items in progress against the limit'),
      k.panel('bargauge', 'work_items_in_progress',
              [g.target(g.overall('sum', 'kpi_work_items_open:sum', by=['stage', 'status']),
                        '{{stage}}: {{status}}', instant=true)],
              title='Inventory: items not done, by status'),
      k.panel('timeseries', 'work_items_completed',
              [g.target(g.overall('sum', 'kpi_work_items_completed:increase_' + S, by=['category']),
                        '{{category}}')],
              title='Throughput: items completed by category (%s)' % S, stack=true),
      k.panel('timeseries', 'work_items_completed',
              [g.target('(%s)\n/ on () group_left ()\n(%s)' % [
                g.overall('sum', active, by=['category']),
                g.overall('sum', active),
              ], '{{category}}')],
              title='Investment mix: share of active time by category (%s)' % L, w=24,
              stack=true)
      + percent(),
    ],
  )
