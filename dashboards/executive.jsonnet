// Executive: eight numbers over the long window, each with its trend against the previous
// period (the time range is the window, so the stat's change compares the two): the DORA
// metrics as DORA groups them, throughput and instability, then time to market (the
// business's number), quality, security and cost; the DORA tier (the 2023 or 2024
// benchmark: the 2025 report replaced tiers by team profiles) opens on demand under them.
// Each reads the organisation's series when All teams and apps are selected, the
// teams' or apps' otherwise (see `overall` in lib/grafana.libsonnet). Ratios are recomputed
// from the summed counts, so they aggregate correctly; medians cannot be summed, so a
// selection of several teams or apps shows the slowest of them. Under them, in a collapsed row
// (the headline stays six to eight numbers), the SLOs: those of the configuration (Prometheus)
// and those kept outside it (Datadog, Application Insights) side by side, from the same slo:*
// records, and the external monitors in Alert.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local w = k.long;
  local increase(metric) = metric + ':increase_' + w;
  local m = g.matchers();
  local budget = 'slo:error_budget_remaining:ratio{%s}' % m;
  local exhausted = [
    g.link('Runbook: ErrorBudgetBurn', k.config.runbook_url % 'ErrorBudgetBurn'),
    g.link('Runbook: ErrorBudgetExhausted', k.config.runbook_url % 'ErrorBudgetExhausted'),
  ];
  g.dashboard(
    uid='kpi-executive',
    title='KPI / Executive',
    description='Eight numbers with their trend against the previous period: DORA throughput'
                + ' and instability, then time to market, quality, security and cost. Under'
                + ' them, opened on demand, the DORA %s benchmark tier (the 2025 report replaced'
                % k.config.dora_report + ' tiers by team profiles), and every SLO (Prometheus,'
                + ' Datadog, Application Insights) with its error budget left and the monitors'
                + ' in Alert.'
                + ' The organisation\'s numbers with All selected, the picked teams\' or'
                + ' apps\' otherwise; medians, tier and budget show the worst of those.'
                + ' Thresholds and colours come from alerts/config.libsonnet.',
    tags=['executive'],
    time='now-' + w,
    panels=[
      g.row('DORA throughput'),
      k.panel('stat', 'change_lead_time',
              [g.target(g.overall('max', 'kpi_change_lead_time_seconds:p50_' + w), 'median')],
              title='Change lead time, median (%s)' % w),
      k.panel('stat', 'deployment_frequency',
              [g.target(g.overall('sum', 'kpi_deployments:per_day_' + w), 'deployments per day')],
              title='Deployment frequency: deployments per day (%s)' % w),
      k.panel('stat', 'failed_deployment_recovery_time',
              [g.target(g.overall('max', 'kpi_failed_deployment_recovery_seconds:p50_' + w), 'median')],
              title='Failed deployment recovery time, median (%s)' % w),
      g.row('DORA instability'),
      // One stat, two numbers (the seed's six to eight numbers): change fail rate in the
      // colours of its target, deployment rework rate (query B) in those of its own.
      k.panel('stat', 'change_failure_rate', [
        g.target(g.ratio(increase('kpi_deployments_failed'), increase('kpi_deployments')), 'change fail rate'),
        g.target(g.ratio(increase('kpi_deployments_rework'), increase('kpi_deployments')), 'deployment rework rate'),
      ], title='Change fail rate and deployment rework rate (%s)' % w)
      + {
        description: 'Change fail rate: %s Deployment rework rate: %s'
                     % [k.kpi('change_failure_rate').meaning, k.kpi('rework_rate').meaning],
        links+: k.links('rework_rate'),
        fieldConfig+: { overrides+: [{
          matcher: { id: 'byFrameRefID', options: 'B' },
          properties: [{ id: 'thresholds', value: k.thresholds('rework_rate') }],
        }] },
      },
      g.row('Time to market, quality, security and cost'),
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
      // The DORA tier, a benchmark of 2023 or 2024, opened on demand (the headline keeps eight
      // numbers).
      g.collapsedRow('DORA %s benchmark tier' % k.config.dora_report, [
        g.stat(
          'DORA %s benchmark tier (%s)' % [k.config.dora_report, w],
          [g.target(g.overall('max', 'kpi_dora_tier:' + w, extra='kpi="overall"'), 'tier')],
          k.kpi('dora_tier').grafana_unit,
          description=k.kpi('dora_tier').meaning,
          thresholds=k.tierThresholds,
          mappings=k.tierMappings,
          direction='lower',
          trend=true,
        ) + { interval: k.minInterval },
      ]),
      // The service levels under the headline numbers, opened on demand.
      g.collapsedRow('Service levels: SLOs (Prometheus, Datadog, Application Insights) and monitors', [
        // The count now (an instant query): over 30 days it would read every SLO's budget
        // sample by sample, a second at 500 apps with SLOs kept outside Prometheus.
        g.stat('SLOs out of error budget',
               [g.target('count(%s <= 0) or vector(0)' % budget, 'SLOs', instant=true)],
               'short', 6, 8,
               'SLOs of the selection whose error budget over their window is spent now: the'
               + ' Prometheus SLOs of the configuration and those kept outside Prometheus'
               + ' (Datadog, Application Insights).',
               g.thresholds([{ color: 'green', value: null }, { color: 'red', value: 1 }]),
               exhausted),
        g.bargauge('SLOs: error budget left', [g.target(budget, '{{slo}} ({{app}})', instant=true)],
                   'percentunit', 12, 8,
                   'Every SLO of the selection, wherever it is kept (Prometheus, Datadog,'
                   + ' Application Insights): the share of its error budget not spent over its'
                   + ' window; below 0 the objective is missed.',
                   g.thresholds([{ color: 'red', value: null }, { color: 'orange', value: 0 }, { color: 'green', value: 0.25 }]),
                   exhausted, max=1),
        k.panel('stat', 'monitors',
                [g.target(g.overall('sum', 'kpi_monitors:sum', extra='state="Alert"') + ' or vector(0)', 'in Alert')],
                title='Monitors in Alert (Datadog)', w=6, h=8)
        + { fieldConfig+: { defaults+: { thresholds: g.thresholds([{ color: 'green', value: null }, { color: 'red', value: 1 }]) } } },
      ]),
    ],
  )
