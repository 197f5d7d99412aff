// Quality KPIs: defect escape rate and customer-reported share, open defects, release failure
// rate, test run failure rate, flaky tests, coverage per app and component next to the
// incidents of each component, and SonarQube's static analysis. Definitions:
// docs/definitions.md#defects-escape-rate-and-customer-reported-share and
// docs/definitions.md#test-coverage-test-runs-and-static-analysis.
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local who = '{{ $labels.app }} (team {{ $labels.team }})';
  local defects = 'definitions.md#defects-escape-rate-and-customer-reported-share';
  local tests = 'definitions.md#test-coverage-test-runs-and-static-analysis';
  local long = config.windows.long;
  local short = config.windows.short;
  local escapeRate(window) = r.name('app', 'kpi_defects_escaped_per_defects', 'ratio_' + window);
  local defectCount(window) = r.name('app', 'kpi_defects', 'increase_' + window);
  local componentLabels = ['app', 'team', 'component'];

  [
    {
      name: 'defect_escape_rate',
      title: 'Defect escape rate',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of the defects created in the window that were found in production'
               + ' (escaped the checks before production), whoever found them: monitoring,'
               + ' staff or customers.',
      definition: defects,
      group: 'kpi-defect-escape-rate',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_defects:increase_7d',
        'team:kpi_defects:increase_7d',
        'org:kpi_defects:increase_7d',
        'app:kpi_defects:increase_30d',
        'team:kpi_defects:increase_30d',
        'org:kpi_defects:increase_30d',
        'app:kpi_defects:increase_90d',
        'team:kpi_defects:increase_90d',
        'org:kpi_defects:increase_90d',
        'app:kpi_defects_escaped:increase_7d',
        'team:kpi_defects_escaped:increase_7d',
        'org:kpi_defects_escaped:increase_7d',
        'app:kpi_defects_escaped:increase_30d',
        'team:kpi_defects_escaped:increase_30d',
        'org:kpi_defects_escaped:increase_30d',
        'app:kpi_defects_escaped:increase_90d',
        'team:kpi_defects_escaped:increase_90d',
        'org:kpi_defects_escaped:increase_90d',
        'app:kpi_defects_escaped_per_defects:ratio_7d',
        'team:kpi_defects_escaped_per_defects:ratio_7d',
        'org:kpi_defects_escaped_per_defects:ratio_7d',
        'app:kpi_defects_escaped_per_defects:ratio_30d',
        'team:kpi_defects_escaped_per_defects:ratio_30d',
        'org:kpi_defects_escaped_per_defects:ratio_30d',
        'app:kpi_defects_escaped_per_defects:ratio_90d',
        'team:kpi_defects_escaped_per_defects:ratio_90d',
        'org:kpi_defects_escaped_per_defects:ratio_90d',
        'app:kpi_defects_escaped_by_phase:increase_7d',
        'team:kpi_defects_escaped_by_phase:increase_7d',
        'org:kpi_defects_escaped_by_phase:increase_7d',
        'app:kpi_defects_escaped_by_phase:increase_30d',
        'team:kpi_defects_escaped_by_phase:increase_30d',
        'org:kpi_defects_escaped_by_phase:increase_30d',
        'app:kpi_defects_escaped_by_phase:increase_90d',
        'team:kpi_defects_escaped_by_phase:increase_90d',
        'org:kpi_defects_escaped_by_phase:increase_90d',
      ],
      records: records.counts('kpi_defects')
               + records.counts('kpi_defects_escaped')
               + records.ratios('kpi_defects_escaped', 'kpi_defects')
               // Escaped defects by the phase that should have caught them.
               + records.counts('kpi_defects_escaped_by_phase', ['phase']),
      alerts: [
        {
          name: 'DefectEscapeRateHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local min = p.num(self.settings.min_defects),
          expr: '%s > %s\nand on (app, team)\n%s >= %s' % [
            escapeRate(window),
            p.num(self.settings.threshold),
            defectCount(window),
            min,
          ],
          summary: 'Too many defects are found in production.',
          description: '{{ $value | humanizePercentage }} of the defects of %s created over the'
                       % who + ' last %s were found in production; the target is at most %s.'
                       % [window, p.percent(self.settings.threshold)],
          meaning: 'The defect escape rate: the share of defects found in production rather'
                   + ' than by the team before it. Fixing a defect after it is deployed costs'
                   + ' far more, in money and in reputation.',
          threshold: 'More than %s of the defects created in the last %s found in production,'
                     % [p.percent(self.settings.threshold), window]
                     + ' once the app has at least %s defects in the window.' % min,
          next: [
            'The escaped defects of the window by severity (`kpi_defects_escaped_total`): a'
            + ' critical escape matters more than many cosmetic ones.',
            'How many of them customers found first'
            + ' (`app:kpi_defects_customer_reported_per_defects:ratio_%s`): those escaped' % window
            + ' the monitoring too.',
            'The release failure rate and change failure rate of the app'
            + ' (`app:kpi_deployments_release_failed_per_deployments:ratio_%s`).' % short,
          ],
        },
        {
          name: 'DefectEscapeRateRising',
          settings: setting(self.name),
          local margin = p.num(self.settings.margin),
          local min = p.num(self.settings.min_defects),
          expr: '%s > on (app, team) %s + %s\nand on (app, team)\n%s >= %s' % [
            escapeRate(short),
            escapeRate(long),
            margin,
            defectCount(short),
            min,
          ],
          summary: 'The defect escape rate is rising.',
          description: '{{ $value | humanizePercentage }} of the defects of %s created over the'
                       % who + ' last %s were found in production, against' % short
                       + ' {{ with printf "%s{app=%%q, team=%%q}"' % escapeRate(long)
                       + ' $labels.app $labels.team | query }}{{ . | first | value'
                       + ' | humanizePercentage }}{{ end }} over the last %s.' % long,
          meaning: 'The defect escape rate of the last %s against that of the last %s: a'
                   % [short, long] + ' rising rate while delivery speeds up means the checks'
                   + ' before production no longer keep up.',
          threshold: 'The escape rate of the last %s more than %s above that of the last %s,'
                     % [short, p.percent(self.settings.margin), long]
                     + ' once the app has at least %s defects in the last %s.' % [min, short],
          next: [
            "This week's escaped defects (`kpi_defects_escaped_total`): one change, one"
            + ' component, or spread out?',
            'Deployment frequency and change size of the same weeks'
            + ' (`app:kpi_deployments:per_day_%s`): more, larger changes with the same' % short
            + ' tests let more defects through.',
            'Flaky tests (`app:kpi_tests_flaky_per_tests:ratio_%s`): failures people' % short
            + ' learned to ignore.',
          ],
        },
      ],
    },
    {
      name: 'defect_rate',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_defects_per_changes_merged:ratio_7d',
        'team:kpi_defects_per_changes_merged:ratio_7d',
        'org:kpi_defects_per_changes_merged:ratio_7d',
        'app:kpi_defects_per_changes_merged:ratio_30d',
        'team:kpi_defects_per_changes_merged:ratio_30d',
        'org:kpi_defects_per_changes_merged:ratio_30d',
        'app:kpi_defects_per_changes_merged:ratio_90d',
        'team:kpi_defects_per_changes_merged:ratio_90d',
        'org:kpi_defects_per_changes_merged:ratio_90d',
      ],
      title: 'Defect rate',
      unit: 'ratio',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'Defects created in the window per change merged in the window (the seeds'
               + ' "defects per commit": 0 to 15 %).',
      definition: defects,
      group: 'kpi-defect-rate',
      records: records.ratios('kpi_defects', 'kpi_changes_merged'),
      alerts: [
        {
          name: 'DefectRateHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local min = p.num(self.settings.min_changes),
          expr: '%s > %s\nand on (app, team)\n%s >= %s' % [
            r.name('app', 'kpi_defects_per_changes_merged', 'ratio_' + window),
            p.num(self.settings.threshold),
            r.name('app', 'kpi_changes_merged', 'increase_' + window),
            min,
          ],
          summary: 'Too many defects per merged change.',
          description: '{{ $value | humanizePercentage }} defects per merged change for %s over'
                       % who + ' the last %s; the target is at most %s.'
                         % [window, p.percent(self.settings.threshold)],
          meaning: 'Defects created per change merged: how often a change brings a defect'
                   + ' with it, wherever it was found.',
          threshold: 'More than %s defects per merged change over the last %s, once the app'
                     % [p.percent(self.settings.threshold), window]
                     + ' merged at least %s changes in the window.' % min,
          next: [
            'The defect escape rate of the same app'
            + ' (`app:kpi_defects_escaped_per_defects:ratio_%s`): found before or after' % window
            + ' production?',
            'Change size and unreviewed merges (`app:kpi_change_size_lines:p50_%s`,' % window
            + ' `app:kpi_changes_merged_unreviewed_per_changes_merged:ratio_%s`).' % window,
          ],
        },
      ],
    },
    {
      name: 'customer_reported_share',
      title: 'Customer-reported defects',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of the defects created in the window that a customer reported:'
               + ' escapes that the monitoring missed too.',
      definition: defects,
      group: 'kpi-defects-customer-reported',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_defects_customer_reported:increase_7d',
        'team:kpi_defects_customer_reported:increase_7d',
        'org:kpi_defects_customer_reported:increase_7d',
        'app:kpi_defects_customer_reported:increase_30d',
        'team:kpi_defects_customer_reported:increase_30d',
        'org:kpi_defects_customer_reported:increase_30d',
        'app:kpi_defects_customer_reported:increase_90d',
        'team:kpi_defects_customer_reported:increase_90d',
        'org:kpi_defects_customer_reported:increase_90d',
        'app:kpi_defects_customer_reported_per_defects:ratio_7d',
        'team:kpi_defects_customer_reported_per_defects:ratio_7d',
        'org:kpi_defects_customer_reported_per_defects:ratio_7d',
        'app:kpi_defects_customer_reported_per_defects:ratio_30d',
        'team:kpi_defects_customer_reported_per_defects:ratio_30d',
        'org:kpi_defects_customer_reported_per_defects:ratio_30d',
        'app:kpi_defects_customer_reported_per_defects:ratio_90d',
        'team:kpi_defects_customer_reported_per_defects:ratio_90d',
        'org:kpi_defects_customer_reported_per_defects:ratio_90d',
      ],
      records: records.counts('kpi_defects_customer_reported')
               + records.ratios('kpi_defects_customer_reported', 'kpi_defects'),
      alerts: [],
    },
    {
      name: 'defects_open',
      title: 'Open defects',
      unit: 'defects',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Defects not resolved yet, of every severity.',
      definition: defects,
      group: 'kpi-defects-open',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_defects_open:sum',
        'team:kpi_defects_open:sum',
        'org:kpi_defects_open:sum',
      ],
      records: records.sums('kpi_defects_open'),
      alerts: [],
    },
    {
      name: 'release_failure_rate',
      title: 'Release failure rate',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of production deployments that needed a rollback or a hotfix'
               + ' (within the hotfix window), of all of them and per release type (major,'
               + ' minor, patch from the semantic version step; unknown otherwise).',
      definition: 'definitions.md#failed-deployment-change-failure-rate',
      group: 'kpi-release-failure-rate',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_deployments_release_failed:increase_7d',
        'team:kpi_deployments_release_failed:increase_7d',
        'org:kpi_deployments_release_failed:increase_7d',
        'app:kpi_deployments_release_failed:increase_30d',
        'team:kpi_deployments_release_failed:increase_30d',
        'org:kpi_deployments_release_failed:increase_30d',
        'app:kpi_deployments_release_failed:increase_90d',
        'team:kpi_deployments_release_failed:increase_90d',
        'org:kpi_deployments_release_failed:increase_90d',
        'app:kpi_deployments_release_failed_per_deployments:ratio_7d',
        'team:kpi_deployments_release_failed_per_deployments:ratio_7d',
        'org:kpi_deployments_release_failed_per_deployments:ratio_7d',
        'app:kpi_deployments_release_failed_per_deployments:ratio_30d',
        'team:kpi_deployments_release_failed_per_deployments:ratio_30d',
        'org:kpi_deployments_release_failed_per_deployments:ratio_30d',
        'app:kpi_deployments_release_failed_per_deployments:ratio_90d',
        'team:kpi_deployments_release_failed_per_deployments:ratio_90d',
        'org:kpi_deployments_release_failed_per_deployments:ratio_90d',
        'app:kpi_deployments_by_release_type:increase_7d',
        'team:kpi_deployments_by_release_type:increase_7d',
        'org:kpi_deployments_by_release_type:increase_7d',
        'app:kpi_deployments_by_release_type:increase_30d',
        'team:kpi_deployments_by_release_type:increase_30d',
        'org:kpi_deployments_by_release_type:increase_30d',
        'app:kpi_deployments_by_release_type:increase_90d',
        'team:kpi_deployments_by_release_type:increase_90d',
        'org:kpi_deployments_by_release_type:increase_90d',
        'app:kpi_deployments_release_failed_by_release_type:increase_7d',
        'team:kpi_deployments_release_failed_by_release_type:increase_7d',
        'org:kpi_deployments_release_failed_by_release_type:increase_7d',
        'app:kpi_deployments_release_failed_by_release_type:increase_30d',
        'team:kpi_deployments_release_failed_by_release_type:increase_30d',
        'org:kpi_deployments_release_failed_by_release_type:increase_30d',
        'app:kpi_deployments_release_failed_by_release_type:increase_90d',
        'team:kpi_deployments_release_failed_by_release_type:increase_90d',
        'org:kpi_deployments_release_failed_by_release_type:increase_90d',
        'app:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_7d',
        'team:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_7d',
        'org:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_7d',
        'app:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_30d',
        'team:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_30d',
        'org:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_30d',
        'app:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_90d',
        'team:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_90d',
        'org:kpi_deployments_release_failed_by_release_type_per_deployments_by_release_type:ratio_90d',
      ],
      records: records.counts('kpi_deployments_release_failed')
               + records.ratios('kpi_deployments_release_failed', 'kpi_deployments')
               // By release type (major, minor, patch, unknown): the version step.
               + records.counts('kpi_deployments_by_release_type', ['release_type'])
               + records.counts('kpi_deployments_release_failed_by_release_type', ['release_type'])
               + records.ratios('kpi_deployments_release_failed_by_release_type',
                                'kpi_deployments_by_release_type'),
      alerts: [
        {
          name: 'ReleaseFailureRateHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_deployments_release_failed_per_deployments', 'ratio_' + window),
            p.num(self.settings.threshold),
          ] + records.minDeployments(window, self.settings.min_deployments),
          summary: 'Too many releases need a rollback or a hotfix.',
          description: '{{ $value | humanizePercentage }} of the production deployments of %s'
                       % who + ' over the last %s needed a rollback or a hotfix; the target'
                       % window + ' is at most %s.' % p.percent(self.settings.threshold),
          meaning: $.meaning,
          threshold: 'More than %s of the production deployments of the last %s rolled back'
                     % [p.percent(self.settings.threshold), window] + ' or hotfixed, once the'
                     + ' app has at least %s production deployments in the window.'
                     % p.num(self.settings.min_deployments),
          next: [
            'The rolled back and hotfixed deployments of the window'
            + ' (`kpi_deployments_release_failed_total` by environment) and what broke.',
            'The escaped defects of the same releases'
            + ' (`app:kpi_defects_escaped_per_defects:ratio_%s`).' % long,
            'The test run failure rate before the releases'
            + ' (`app:kpi_test_runs_failed_per_test_runs:ratio_%s`): red builds released' % window
            + ' anyway?',
          ],
        },
      ],
    },
    {
      name: 'test_run_failure_rate',
      title: 'Test run failure rate',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of test runs (a suite for a commit) with at least one test that'
               + ' failed and never passed for that commit.',
      definition: tests,
      group: 'kpi-test-runs',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_test_runs:increase_7d',
        'team:kpi_test_runs:increase_7d',
        'org:kpi_test_runs:increase_7d',
        'app:kpi_test_runs:increase_30d',
        'team:kpi_test_runs:increase_30d',
        'org:kpi_test_runs:increase_30d',
        'app:kpi_test_runs:increase_90d',
        'team:kpi_test_runs:increase_90d',
        'org:kpi_test_runs:increase_90d',
        'app:kpi_test_runs_failed:increase_7d',
        'team:kpi_test_runs_failed:increase_7d',
        'org:kpi_test_runs_failed:increase_7d',
        'app:kpi_test_runs_failed:increase_30d',
        'team:kpi_test_runs_failed:increase_30d',
        'org:kpi_test_runs_failed:increase_30d',
        'app:kpi_test_runs_failed:increase_90d',
        'team:kpi_test_runs_failed:increase_90d',
        'org:kpi_test_runs_failed:increase_90d',
        'app:kpi_test_runs_failed_per_test_runs:ratio_7d',
        'team:kpi_test_runs_failed_per_test_runs:ratio_7d',
        'org:kpi_test_runs_failed_per_test_runs:ratio_7d',
        'app:kpi_test_runs_failed_per_test_runs:ratio_30d',
        'team:kpi_test_runs_failed_per_test_runs:ratio_30d',
        'org:kpi_test_runs_failed_per_test_runs:ratio_30d',
        'app:kpi_test_runs_failed_per_test_runs:ratio_90d',
        'team:kpi_test_runs_failed_per_test_runs:ratio_90d',
        'org:kpi_test_runs_failed_per_test_runs:ratio_90d',
      ],
      records: records.counts('kpi_test_runs')
               + records.counts('kpi_test_runs_failed')
               + records.ratios('kpi_test_runs_failed', 'kpi_test_runs'),
      alerts: [],
    },
    {
      name: 'flaky_tests',
      title: 'Flaky tests',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of the test cases run in the window that were flaky: failed in one'
               + ' run and passed in another for the same commit.',
      definition: tests,
      group: 'kpi-flaky-tests',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_tests:increase_7d',
        'team:kpi_tests:increase_7d',
        'org:kpi_tests:increase_7d',
        'app:kpi_tests:increase_30d',
        'team:kpi_tests:increase_30d',
        'org:kpi_tests:increase_30d',
        'app:kpi_tests:increase_90d',
        'team:kpi_tests:increase_90d',
        'org:kpi_tests:increase_90d',
        'app:kpi_tests_flaky:increase_7d',
        'team:kpi_tests_flaky:increase_7d',
        'org:kpi_tests_flaky:increase_7d',
        'app:kpi_tests_flaky:increase_30d',
        'team:kpi_tests_flaky:increase_30d',
        'org:kpi_tests_flaky:increase_30d',
        'app:kpi_tests_flaky:increase_90d',
        'team:kpi_tests_flaky:increase_90d',
        'org:kpi_tests_flaky:increase_90d',
        'app:kpi_tests_flaky_per_tests:ratio_7d',
        'team:kpi_tests_flaky_per_tests:ratio_7d',
        'org:kpi_tests_flaky_per_tests:ratio_7d',
        'app:kpi_tests_flaky_per_tests:ratio_30d',
        'team:kpi_tests_flaky_per_tests:ratio_30d',
        'org:kpi_tests_flaky_per_tests:ratio_30d',
        'app:kpi_tests_flaky_per_tests:ratio_90d',
        'team:kpi_tests_flaky_per_tests:ratio_90d',
        'org:kpi_tests_flaky_per_tests:ratio_90d',
      ],
      records: records.counts('kpi_tests')
               + records.counts('kpi_tests_flaky')
               + records.ratios('kpi_tests_flaky', 'kpi_tests'),
      alerts: [
        {
          name: 'FlakyTestsHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_tests_flaky_per_tests', 'ratio_' + window),
            p.num(self.settings.threshold),
          ],
          summary: 'Too many tests are flaky.',
          description: '{{ $value | humanizePercentage }} of the test cases of %s run over the'
                       % who + ' last %s were flaky; the target is at most %s.'
                       % [window, p.percent(self.settings.threshold)],
          meaning: $.meaning + ' Retries that pass turn failures into flaky tests, so'
                   + ' retrying does not hide them.',
          threshold: 'More than %s of the test cases run in the last %s flaky.'
                     % [p.percent(self.settings.threshold), window],
          next: [
            'The flaky test cases of the window in the CI reports: the same few tests, or'
            + ' spread across the suite (a shared environment)?',
            'Failed test runs (`app:kpi_test_runs_failed_per_test_runs:ratio_%s`) and' % window
            + ' change lead time: flaky tests slow every merge.',
          ],
        },
      ],
    },
    {
      name: 'coverage',
      title: 'Test coverage',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'higher',
      meaning: 'Lines covered by tests over executable lines in the latest coverage reports,'
               + ' per app and per component, next to the incidents of each component over'
               + ' the window: the test coverage against the incident distribution.',
      definition: tests,
      group: 'kpi-coverage',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_coverage_lines_covered:sum',
        'team:kpi_coverage_lines_covered:sum',
        'org:kpi_coverage_lines_covered:sum',
        'app:kpi_coverage_lines_valid:sum',
        'team:kpi_coverage_lines_valid:sum',
        'org:kpi_coverage_lines_valid:sum',
        'app:kpi_coverage:ratio',
        'team:kpi_coverage:ratio',
        'org:kpi_coverage:ratio',
        'app:kpi_coverage_by_component:ratio',
        'app:kpi_incidents_by_component:increase_7d',
        'team:kpi_incidents_by_component:increase_7d',
        'org:kpi_incidents_by_component:increase_7d',
        'app:kpi_incidents_by_component:increase_30d',
        'team:kpi_incidents_by_component:increase_30d',
        'org:kpi_incidents_by_component:increase_30d',
        'app:kpi_incidents_by_component:increase_90d',
        'team:kpi_incidents_by_component:increase_90d',
        'org:kpi_incidents_by_component:increase_90d',
        'team:kpi_coverage_with_incidents:ratio_7d',
        'team:kpi_coverage_with_incidents:ratio_30d',
        'team:kpi_coverage_with_incidents:ratio_90d',
      ],
      records: records.sums('kpi_coverage_lines_covered')
               + records.sums('kpi_coverage_lines_valid')
               + r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_coverage', 'ratio'),
                 p.ratio(
                   r.name(level.name, 'kpi_coverage_lines_covered', 'sum'),
                   r.name(level.name, 'kpi_coverage_lines_valid', 'sum'),
                 ),
               ))
               + [
                 r.record(
                   r.name('app', 'kpi_coverage_by_component', 'ratio'),
                   p.ratio(
                     p.sum(componentLabels, records.exporter('kpi_coverage_lines_covered')),
                     p.sum(componentLabels, records.exporter('kpi_coverage_lines_valid')),
                   ),
                 ),
               ]
               + records.counts('kpi_incidents_by_component', ['component'])
               // Per team, the coverage of its components with incidents in the window: what
               // the dashboards show for All teams instead of every app's components.
               + [
                 local withIncidents(family) =
                   'sum by (team) (%s and on (app, team, component) (%s > 0))' % [
                     p.sum(componentLabels, records.exporter(family)),
                     r.name('app', 'kpi_incidents_by_component', 'increase_' + window),
                   ];
                 r.ofWindow(window, r.record(
                   r.name('team', 'kpi_coverage_with_incidents', 'ratio_' + window),
                   '%s\n/\n(%s > 0)' % [withIncidents('kpi_coverage_lines_covered'),
                                         withIncidents('kpi_coverage_lines_valid')],
                 ))
                 for window in r.windows(config)
               ],
      alerts: [
        {
          name: 'CoverageLowWhereIncidents',
          settings: setting(self.name),
          local incidents = r.name('app', 'kpi_incidents_by_component', 'increase_' + long),
          local min = p.num(self.settings.min_incidents),
          expr: '%s < %s\nand on (app, team, component)\n%s >= %s' % [
            r.name('app', 'kpi_coverage_by_component', 'ratio'),
            p.num(self.settings.threshold),
            incidents,
            min,
          ],
          summary: 'A component with incidents has low test coverage.',
          description: 'Component {{ $labels.component }} of %s has' % who
                       + ' {{ $value | humanizePercentage }} line coverage and had'
                       + ' {{ with printf "%s{app=%%q, team=%%q, component=%%q}"' % incidents
                       + ' $labels.app $labels.team $labels.component | query }}{{ . | first'
                       + ' | value | humanize }}{{ end }} incidents over the last %s; the' % long
                       + ' target is at least %s.' % p.percent(self.settings.threshold),
          meaning: 'Line coverage of a component that had incidents: coverage is worth most'
                   + ' where things break, so a component that fails in production and has'
                   + ' few tests comes first.',
          threshold: 'Line coverage under %s for a component with at least %s incidents in the'
                     % [p.percent(self.settings.threshold), min] + ' last %s.' % long,
          next: [
            'The incidents of the component (`kpi_incidents_by_component_total`): which'
            + ' user journey failed, and would a test have caught it?',
            'Coverage of the other components of the app'
            + ' (`app:kpi_coverage_by_component:ratio`): the incidents against the coverage'
            + ' of every component.',
            'Whether the coverage report still includes the component'
            + ' (`kpi_coverage_lines_valid`): a component no report has drops to 0 lines.',
          ],
        },
      ],
    },
    {
      name: 'static_analysis',
      title: 'Static analysis (SonarQube)',
      unit: 'issues',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: "SonarQube's open bugs, code smells and vulnerabilities, its technical debt"
               + ' ratio and its coverage, as of the last analysis of each app.',
      definition: tests,
      group: 'kpi-static-analysis',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_sonarqube_bugs:sum',
        'team:kpi_sonarqube_bugs:sum',
        'org:kpi_sonarqube_bugs:sum',
        'app:kpi_sonarqube_code_smells:sum',
        'team:kpi_sonarqube_code_smells:sum',
        'org:kpi_sonarqube_code_smells:sum',
        'app:kpi_sonarqube_vulnerabilities:sum',
        'team:kpi_sonarqube_vulnerabilities:sum',
        'org:kpi_sonarqube_vulnerabilities:sum',
        'app:kpi_sonarqube_debt_ratio:max',
        'app:kpi_sonarqube_coverage_ratio:max',
      ],
      records: records.sums('kpi_sonarqube_bugs')
               + records.sums('kpi_sonarqube_code_smells')
               + records.sums('kpi_sonarqube_vulnerabilities')
               + [
                 // Ratios are not summed: one project per app, so the app level only.
                 r.record(
                   r.name('app', family, 'max'),
                   p.aggregate('max', ['app', 'team'], records.exporter(family)),
                 )
                 for family in ['kpi_sonarqube_debt_ratio', 'kpi_sonarqube_coverage_ratio']
               ],
      alerts: [],
    },
  ]
