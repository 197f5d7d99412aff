// Cost: spend month to date, yesterday and forecast against the budgets, and cost per unit.
// Amounts are never summed across currencies. Time series read the organisation's, teams'
// or apps' series, whichever answers the selection (lib/grafana.libsonnet).
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local m = g.matchers();
  g.dashboard(
    uid='kpi-cost',
    title='KPI / Cost',
    description='Spend by provider, app and team from FOCUS-shaped cost data, month to date'
                + ' and forecast against the monthly budgets, and cost per unit.',
    tags=['domain', 'cost'],
    panels=[
      k.panel('bargauge', 'spend',
              [g.target('app:kpi_cost_forecast_per_budget:ratio{%s}' % m, '{{app}} ({{currency}})', instant=true)],
              title='Month-end forecast / budget by app', alert='SpendForecastOverBudget', w=12)
      + { fieldConfig+: { defaults+: { unit: 'percentunit' } } },
      k.panel('bargauge', 'spend',
              [g.target('app:kpi_cost_month_to_date_per_budget:ratio{%s}' % m, '{{app}} ({{currency}})', instant=true)],
              title='Month to date / budget by app', alert='SpendOverBudget', w=12)
      + { fieldConfig+: { defaults+: { unit: 'percentunit' } } },
      k.panel('timeseries', 'spend',
              [g.target(g.overall('sum', 'kpi_cost_month_to_date_by_provider:sum', by=['provider', 'currency']), '{{provider}} ({{currency}})')],
              title='Spend month to date by provider', w=12)
      + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'spend',
              [g.target(g.breakdown('kpi_cost_last_day:sum'), '{{team}} {{app}} ({{currency}})')],
              title='Spend of the last complete day', w=12, stack=true)
      + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('table', 'spend', [
        g.target('app:kpi_cost_month_to_date:sum{%s}' % m, '', instant=true),
        g.target('app:kpi_cost_forecast_month_end:sum{%s}' % m, '', instant=true),
        // An app budget has no team label: the budgets of the selected apps with spend.
        g.target('app:kpi_cost_budget_month:sum{app=~"$app"} and on (app) app:kpi_cost_month_to_date:sum{%s}' % m,
                 '', instant=true),
      ], title='Month to date (A), forecast (B) and budget (C) by app', w=12)
      + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'cost_per_unit',
              [g.target(g.breakdown('kpi_cost_per_unit:ratio'), '{{team}} {{app}} per {{unit}} ({{currency}})')],
              title='Cost per unit', w=12),
    ],
  )
