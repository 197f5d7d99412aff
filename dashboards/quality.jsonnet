// Quality and incidents: defect escape, time to detect and restore, release failure rate,
// and test coverage against incidents by component. Lines per team with All teams selected,
// per app of the picked teams or apps otherwise (`breakdown` in lib/grafana.libsonnet); the
// medians of the incidents show the selection's own (`outline`: the organisation's under All
// teams, else each picked team's or app's).
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local S = k.short;
  local L = k.long;
  local m = g.matchers();
  // The coverage of each component with incidents in the long window, of the picked teams or
  // apps; with All teams selected, the heat map shows one row per team instead.
  local componentsWithIncidents(when) =
    '(%s and on (app, team, component) (%s > 0))' % [
      g.at('app', 'kpi_coverage_by_component:ratio', when=when),
      g.at('app', 'kpi_incidents_by_component:increase_' + L, when=when),
    ];
  g.dashboard(
    uid='kpi-quality',
    title='KPI / Quality and incidents',
    description='Defect escape rate, time to detect and restore, release failure rate (by'
                + ' release type too), flaky'
                + ' tests and test coverage where incidents happen.',
    tags=['domain', 'quality', 'incidents'],
    panels=[
      g.row('Defects and releases'),
      k.panel('timeseries', 'defect_escape_rate',
              [g.target(g.breakdown('kpi_defects_escaped_per_defects:ratio_%s' % L), '{{team}} {{app}}')],
              title='Defect escape rate (%s)' % L, w=8),
      k.panel('timeseries', 'customer_reported_share',
              [g.target(g.breakdown('kpi_defects_customer_reported_per_defects:ratio_%s' % L), '{{team}} {{app}}')],
              title='Customer-reported share (%s)' % L, w=8),
      k.panel('timeseries', 'release_failure_rate',
              [g.target(g.breakdown('kpi_deployments_release_failed_per_deployments:ratio_%s' % S), '{{team}} {{app}}')],
              title='Release failure rate (%s)' % S, w=8),
      k.panel('bargauge', 'defect_escape_rate',
              [g.target(g.overall('sum', 'kpi_defects_escaped_by_phase:increase_' + L, by=['phase']),
                        '{{phase}}', instant=true)],
              title='Escaped defects by the phase that should have caught them (%s)' % L, w=12)
      + { fieldConfig+: { defaults+: { unit: 'short' } } },
      local failedByType = g.overall(
        'sum', 'kpi_deployments_release_failed_by_release_type:increase_' + L, by=['release_type']
      );
      local deployedByType = g.overall(
        'sum', 'kpi_deployments_by_release_type:increase_' + L, by=['release_type']
      );
      k.panel('bargauge', 'release_failure_rate',
              [g.target('(%s or 0 * (%s))\n/ on (release_type)\n((%s) > 0)'
                        % [failedByType, deployedByType, deployedByType],
                        '{{release_type}}', instant=true)],
              title='Release failure rate by release type (%s)' % L, w=12),
      g.row('Incidents'),
      k.panel('timeseries', 'time_to_detect',
              [g.target(g.outline('kpi_incident_detect_seconds:p50_%s' % S), '{{team}} {{app}} median')],
              title='Time to detect, median (%s)' % S, w=8),
      k.panel('timeseries', 'time_to_acknowledge',
              [g.target(g.outline('kpi_incident_acknowledge_seconds:p50_%s' % S), '{{team}} {{app}} median')],
              title='Time to acknowledge, median (%s)' % S, w=8),
      k.panel('timeseries', 'time_to_restore',
              [g.target(g.outline('kpi_incident_restore_seconds:p50_%s' % S), '{{team}} {{app}} median')],
              title='Time to restore, median (%s)' % S, w=8),
      g.row('Tests and coverage'),
      k.panel('timeseries', 'flaky_tests',
              [g.target(g.breakdown('kpi_tests_flaky_per_tests:ratio_%s' % S), '{{team}} {{app}}')],
              title='Flaky tests (%s)' % S, w=12),
      k.panel('bargauge', 'coverage',
              [g.target('app:kpi_coverage:ratio{%s}' % m, '{{app}}', instant=true)],
              title='Line coverage by app', w=12, h=8)
      + { fieldConfig+: { defaults+: { min: 0, max: 1 } } },
      k.panel('heatmap', 'coverage',
              [g.target(std.join(' or ', [
                g.at('team', 'kpi_coverage_with_incidents:ratio_' + L, when=g.when.allTeams),
                componentsWithIncidents(g.when.teamsPicked),
                componentsWithIncidents(g.when.appsPicked),
              ]), '{{team}} {{app}} {{component}}')],
              title='Coverage of the components with incidents (%s)' % L, w=12),
      k.panel('table', 'coverage', [
        g.target('app:kpi_coverage_by_component:ratio{%s}' % m, '', instant=true),
        g.target('app:kpi_incidents_by_component:increase_%s{%s}' % [L, m], '', instant=true),
      ], title='Coverage and incidents (%s) by component' % L, w=12)
      + { fieldConfig+: { overrides: [{
        matcher: { id: 'byName', options: 'Value #B' },
        properties: [
          { id: 'unit', value: 'short' },
          { id: 'displayName', value: 'incidents' },
          { id: 'thresholds', value: g.thresholds([{ color: 'green', value: null }, { color: 'red', value: 1 }]) },
        ],
      }] } },
    ],
  )
