// Leadership: the four quadrants, velocity, reliability, security, business and cost, per
// team over the windows of the configuration. Per-team lines read the teams' series unless
// apps are picked, numbers the organisation's unless teams or apps are (`perTeam` and
// `overall` in lib/grafana.libsonnet).
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local L = k.long;
  local S = k.short;
  local m = g.matchers();
  local t = g.matchers(['team']);
  g.dashboard(
    uid='kpi-leadership',
    title='KPI / Leadership',
    description='The four quadrants per team: velocity, reliability, security, business and'
                + ' cost. Colours are the targets of alerts/config.libsonnet.',
    tags=['leadership'],
    panels=[
      g.row('Velocity'),
      k.panel('timeseries', 'deployment_frequency',
              [g.target(g.perTeam('kpi_deployments:per_day_' + S), '{{team}}')],
              title='Deployments per day (%s) by team' % S, w=8),
      k.panel('timeseries', 'change_lead_time',
              [g.target(g.perTeam('kpi_change_lead_time_seconds:p50_' + S, 'max'), '{{team}}')],
              title='Change lead time, median (%s)' % S, w=8),
      k.panel('timeseries', 'change_failure_rate',
              [g.target(g.perTeamRatio('kpi_deployments_failed_per_deployments:ratio_' + S,
                                       'kpi_deployments_failed:increase_' + S,
                                       'kpi_deployments:increase_' + S), '{{team}}')],
              title='Change failure rate (%s)' % S, w=8),
      g.bargauge('DORA %s benchmark tier by team (%s)' % [k.config.dora_report, L],
                 [g.target('team:kpi_dora_tier:%s{kpi="overall", %s}' % [L, t], '{{team}}', instant=true)],
                 k.kpi('dora_tier').grafana_unit, 12, 8, k.kpi('dora_tier').meaning,
                 k.tierThresholds, min=0, max=3),
      k.panel('bargauge', 'work_in_progress',
              [g.target('sum by (team) (app:kpi_changes_open:sum{%s}) / on (team) team:kpi_changes_open:wip_limit'
                        % m, '{{team}}', instant=true)],
              title='Work in progress / WIP limit', w=12)
      + { fieldConfig+: { defaults+: {
        unit: 'percentunit',
        thresholds: g.thresholds([{ color: 'green', value: null }, { color: 'red', value: 1 }]),
      } } },

      g.row('Reliability'),
      k.panel('timeseries', 'time_to_restore',
              [g.target(g.perTeam('kpi_incident_restore_seconds:p50_' + S, 'max'), '{{team}}')],
              title='Time to restore, median (%s)' % S, w=8),
      k.panel('bargauge', 'incidents',
              [g.target('sum by (team) (app:kpi_incidents:increase_%s{%s})' % [L, m], '{{team}}', instant=true)],
              title='Incidents (%s) by team' % L, w=8),
      g.bargauge('Error budget remaining by SLO',
                 [g.target('slo:error_budget_remaining:ratio{%s}' % m, '{{slo}}', instant=true)],
                 'percentunit', 8, 8,
                 'The share of the error budget of each SLO not spent over its window.',
                 g.thresholds([{ color: 'red', value: null }, { color: 'orange', value: 0 }, { color: 'green', value: 0.25 }]),
                 [g.link('Runbook: ErrorBudgetBurn', k.config.runbook_url % 'ErrorBudgetBurn')],
                 max=1),
      k.panel('stat', 'incidents',
              [g.target(g.overall('sum', 'kpi_incidents_open:sum') + ' or vector(0)', 'open')],
              title='Incidents open now', w=12),
      k.panel('stat', 'release_failure_rate',
              [g.target(g.ratio('kpi_deployments_release_failed:increase_' + S, 'kpi_deployments:increase_' + S),
                        'failed releases')],
              title='Release failure rate (%s)' % S, w=12),

      g.row('Security'),
      k.panel('stat', 'vulnerabilities_open',
              [g.target(g.overall('sum', 'kpi_vulnerabilities_open_critical:sum') + ' or vector(0)', 'critical')],
              title='Critical findings open', w=8),
      k.panel('bargauge', 'vulnerabilities_open',
              [g.target('sum by (severity) (app:kpi_vulnerabilities_sla_breached:sum{%s})' % m, '{{severity}}', instant=true)],
              title='Findings past their SLA by severity', w=8),
      k.panel('stat', 'vulnerability_fix_time',
              [g.target(g.overall('max', 'kpi_vulnerability_fix_seconds:p50_' + L), 'median')],
              title='Time to fix, median (%s)' % L, w=8),

      g.row('Business and cost'),
      k.panel('timeseries', 'work_item_time_to_market',
              [g.target(g.perTeam('kpi_work_item_time_to_production_seconds:p50_' + L, 'max'), '{{team}}')],
              title='Time to market, median (%s) by team' % L, alert='TimeToMarketRising', w=12),
      k.panel('bargauge', 'spend',
              [g.target('sum by (team, currency) (app:kpi_cost_month_to_date:sum{%s})' % m,
                        '{{team}} ({{currency}})', instant=true)],
              title='Spend month to date by team', w=6),
      k.panel('bargauge', 'spend',
              [g.target('team:kpi_cost_forecast_per_budget:ratio{%s}' % t, '{{team}} ({{currency}})', instant=true)],
              title='Month-end forecast / budget', alert='SpendForecastOverBudget', w=6)
      + { fieldConfig+: { defaults+: { unit: 'percentunit' } } },
      k.panel('timeseries', 'cost_per_unit',
              [g.target(g.breakdown('kpi_cost_per_unit:ratio'), '{{team}} {{app}} per {{unit}} ({{currency}})')],
              title='Cost per unit', w=6),
      k.panel('stat', 'developer_survey',
              [g.target('avg(team:kpi_survey_nps_ratio:max{%s})' % t, 'NPS')],
              title='Developer NPS (mean of teams)', w=6)
      + { fieldConfig+: { defaults+: { unit: 'percentunit', min: -1, max: 1 } } },
    ],
  )
