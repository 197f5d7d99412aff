// Cost: spend month to date, yesterday and forecast against the budgets, and cost per unit.
// Amounts are never summed across currencies.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local m = g.matchers();
  local raw = g.matchers(['team', 'app']);
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
              [g.target('sum by (provider, currency) (kpi_cost_month_to_date{%s})' % raw, '{{provider}} ({{currency}})')],
              title='Spend month to date by provider', w=12)
      + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'spend',
              [g.target('app:kpi_cost_last_day:sum{%s}' % m, '{{app}} ({{currency}})')],
              title='Spend of the last complete day by app', w=12, stack=true)
      + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('table', 'spend', [
        g.target('app:kpi_cost_month_to_date:sum{%s}' % m, '', instant=true),
        g.target('app:kpi_cost_forecast_month_end:sum{%s}' % m, '', instant=true),
        g.target('app:kpi_cost_budget_month:sum{%s}' % m, '', instant=true),
      ], title='Month to date (A), forecast (B) and budget (C) by app', w=12)
      + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('timeseries', 'cost_per_unit',
              [g.target('app:kpi_cost_per_unit:ratio{%s}' % m, '{{app}} per {{unit}} ({{currency}})')],
              title='Cost per unit', w=12),
    ],
  )
