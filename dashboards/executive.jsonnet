// Executive: eight numbers over the long window, each with its trend against the previous
// period (the time range is the window, so the stat's change compares the two) and the
// DORA tier; time to market is the business's number (failed deployment recovery is in the
// tier and the Delivery view). Each reads the organisation's series when All teams and apps are selected, the
// teams' or apps' otherwise (see `overall` in lib/grafana.libsonnet). Ratios are recomputed
// from the summed counts, so they aggregate correctly; medians cannot be summed, so a
// selection of several teams or apps shows the slowest of them.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local w = k.long;
  local increase(metric) = metric + ':increase_' + w;
  g.dashboard(
    uid='kpi-executive',
    title='KPI / Executive',
    description='Six to eight numbers with their trend against the previous period and the'
                + ' DORA tier. The organisation\'s numbers with All selected, the picked teams\' or'
                + ' apps\' otherwise; medians, tier and budget show the worst of those.'
                + ' Thresholds and colours come from alerts/config.libsonnet.',
    tags=['executive'],
    time='now-' + w,
    panels=[
      k.panel('stat', 'deployment_frequency',
              [g.target(g.overall('sum', 'kpi_deployments:per_day_' + w), 'deployments per day')],
              title='Deployments per day (%s)' % w),
      k.panel('stat', 'change_lead_time',
              [g.target(g.overall('max', 'kpi_change_lead_time_seconds:p50_' + w), 'median')],
              title='Change lead time, median (%s)' % w),
      k.panel('stat', 'change_failure_rate',
              [g.target(g.ratio(increase('kpi_deployments_failed'), increase('kpi_deployments')), 'failed')],
              title='Change failure rate (%s)' % w),
      g.stat(
        'DORA tier (%s)' % w,
        [g.target(g.overall('max', 'kpi_dora_tier:' + w, extra='kpi="overall"'), 'tier')],
        k.kpi('dora_tier').grafana_unit,
        description=k.kpi('dora_tier').meaning,
        thresholds=k.tierThresholds,
        mappings=k.tierMappings,
        direction='lower',
        trend=true,
      ) + { interval: k.minInterval },
      k.panel('stat', 'work_item_time_to_market',
              [g.target(g.overall('max', 'kpi_work_item_time_to_production_seconds:p50_' + w), 'median')],
              title='Time to market, median (%s)' % w, alert='TimeToMarketRising'),
      k.panel('stat', 'defect_escape_rate',
              [g.target(g.ratio(increase('kpi_defects_escaped'), increase('kpi_defects')), 'escaped')],
              title='Defect escape rate (%s)' % w),
      k.panel('stat', 'vulnerabilities_open',
              [g.target(g.overall('sum', 'kpi_vulnerabilities_sla_breached:sum', extra='severity="critical"')
                        + ' or vector(0)', 'past SLA')],
              title='Critical findings past their SLA', alert='CriticalVulnerabilityPastSla'),
      k.panel('stat', 'spend',
              [g.target(g.overall('max', 'kpi_cost_forecast_per_budget:max'), 'forecast / budget')],
              title='Month-end forecast / budget (highest budget)', alert='SpendForecastOverBudget')
      + { fieldConfig+: { defaults+: { unit: 'percentunit' } } },
    ],
  )
