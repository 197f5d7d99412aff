// Security KPIs: open findings by severity, open criticals, findings open past their SLA and
// the oldest open one, time to fix, fixed and dismissed findings. Definitions:
// docs/definitions.md#security-findings.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local who = '{{ $labels.app }} (team {{ $labels.team }})';
  local definition = 'definitions.md#security-findings';
  local long = config.windows.long;
  // Per level and finding severity (the label of the exporter's series).
  local bySeverity(level) = level.labels + ['severity'];
  local breached = r.name('app', 'kpi_vulnerabilities_sla_breached', 'sum');

  // The alert on the findings of one severity open past their SLA. The alert's own
  // `severity` label replaces the finding's, so the expression keeps app and team only.
  local pastSla(name, findingSeverity, next) = {
    name: name,
    settings: setting(name),
    local threshold = p.num(self.settings.threshold),
    expr: 'sum by (app, team) (%s{severity="%s"}) > %s' % [breached, findingSeverity, threshold],
    summary: 'A %s security finding is open past its SLA.' % findingSeverity,
    description: '{{ $value }} %s security findings of %s are open past their SLA' % [
      findingSeverity,
      who,
    ] + '; the target is at most %s.' % threshold,
    meaning: 'Open %s findings (Dependabot, code scanning, secret scanning, Trivy, OSV) older'
             % findingSeverity + ' than the SLA of their severity in the exporter'
             + ' configuration (`security.sla`; default critical 7 days, high 30 days).',
    threshold: 'More than %s %s findings of the app open past their SLA.'
               % [threshold, findingSeverity],
    next: next,
  };

  [
    {
      name: 'vulnerabilities_open',
      title: 'Open security findings',
      unit: 'findings',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Security findings open now by severity, the open critical ones, those open past'
               + ' the SLA of their severity, and the age of the oldest open one.',
      definition: definition,
      group: 'kpi-vulnerabilities-open',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_vulnerabilities_open:sum',
        'team:kpi_vulnerabilities_open:sum',
        'org:kpi_vulnerabilities_open:sum',
        'app:kpi_vulnerabilities_open_critical:sum',
        'team:kpi_vulnerabilities_open_critical:sum',
        'org:kpi_vulnerabilities_open_critical:sum',
        'app:kpi_vulnerabilities_sla_breached:sum',
        'team:kpi_vulnerabilities_sla_breached:sum',
        'org:kpi_vulnerabilities_sla_breached:sum',
        'app:kpi_vulnerabilities_open_age_seconds:max',
        'team:kpi_vulnerabilities_open_age_seconds:max',
        'org:kpi_vulnerabilities_open_age_seconds:max',
      ],
      records: r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_vulnerabilities_open', 'sum'),
                 p.sum(bySeverity(level), records.exporter('kpi_vulnerabilities_open')),
               ))
               + r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_vulnerabilities_open_critical', 'sum'),
                 p.sum(level.labels, records.exporter('kpi_vulnerabilities_open',
                                                      ['severity="critical"'])),
               ))
               + r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_vulnerabilities_sla_breached', 'sum'),
                 p.sum(bySeverity(level), records.exporter('kpi_vulnerabilities_sla_breached')),
               ))
               + r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_vulnerabilities_open_age_seconds', 'max'),
                 'time() - ' + p.aggregate('min', bySeverity(level), records.exporter(
                   'kpi_vulnerabilities_oldest_open_created_timestamp_seconds'
                 )),
               )),
      alerts: [
        pastSla('CriticalVulnerabilityPastSla', 'critical', [
          'The open critical findings of the app in the scanner (`kpi_vulnerabilities_open` by'
          + ' scanner): a dependency, an image, code or a leaked secret?',
          'How long they have been open'
          + ' (`app:kpi_vulnerabilities_open_age_seconds:max`).',
          'Whether a fixed version exists: if not, mitigate and record the accepted risk.',
        ]),
        pastSla('HighVulnerabilityPastSla', 'high', [
          'The open high findings of the app by scanner (`kpi_vulnerabilities_open`): many'
          + ' from one outdated dependency or base image?',
          'Time to fix of the findings of every severity fixed over the last %s' % long
          + ' (`app:kpi_vulnerability_fix_seconds:p50_%s`).' % long,
        ]),
      ],
    },
    {
      name: 'vulnerability_fix_time',
      title: 'Time to fix security findings',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'How long security findings take from created (first reported) to fixed:'
               + ' median, 75th and 90th percentiles of the findings fixed in the window, and'
               + ' the median of the critical ones fixed over the last %s.' % long,
      definition: definition,
      group: 'kpi-vulnerability-fix-time',
      // The exporter's window quantiles are of every severity; the median of the critical
      // findings (what the alert reads) comes from the raw histogram, as the exact difference
      // of its buckets over the long window net of the retracted ones: two samples a bucket
      // series of the critical findings.
      local critical(family) = records.exporter(family, ['severity="critical"']),
      local scraped = records.exporter('kpi_exporter_build_info'),
      local net = [
        p.difference(['job', 'instance', 'app', 'team', 'le'], critical(family), long, scraped)
        for family in [
          'kpi_vulnerability_fix_seconds_bucket',
          'kpi_vulnerability_fix_retracted_seconds_bucket',
        ]
      ],
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_vulnerability_fix_seconds:p50_7d',
        'team:kpi_vulnerability_fix_seconds:p50_7d',
        'org:kpi_vulnerability_fix_seconds:p50_7d',
        'app:kpi_vulnerability_fix_seconds:p75_7d',
        'team:kpi_vulnerability_fix_seconds:p75_7d',
        'org:kpi_vulnerability_fix_seconds:p75_7d',
        'app:kpi_vulnerability_fix_seconds:p90_7d',
        'team:kpi_vulnerability_fix_seconds:p90_7d',
        'org:kpi_vulnerability_fix_seconds:p90_7d',
        'app:kpi_vulnerability_fix_seconds:p50_30d',
        'team:kpi_vulnerability_fix_seconds:p50_30d',
        'org:kpi_vulnerability_fix_seconds:p50_30d',
        'app:kpi_vulnerability_fix_seconds:p75_30d',
        'team:kpi_vulnerability_fix_seconds:p75_30d',
        'org:kpi_vulnerability_fix_seconds:p75_30d',
        'app:kpi_vulnerability_fix_seconds:p90_30d',
        'team:kpi_vulnerability_fix_seconds:p90_30d',
        'org:kpi_vulnerability_fix_seconds:p90_30d',
        'app:kpi_vulnerability_fix_seconds:p50_90d',
        'team:kpi_vulnerability_fix_seconds:p50_90d',
        'org:kpi_vulnerability_fix_seconds:p50_90d',
        'app:kpi_vulnerability_fix_seconds:p75_90d',
        'team:kpi_vulnerability_fix_seconds:p75_90d',
        'org:kpi_vulnerability_fix_seconds:p75_90d',
        'app:kpi_vulnerability_fix_seconds:p90_90d',
        'team:kpi_vulnerability_fix_seconds:p90_90d',
        'org:kpi_vulnerability_fix_seconds:p90_90d',
        'app:kpi_vulnerability_fix_seconds_critical:p50_30d',
      ],
      records: records.quantiles('kpi_vulnerability_fix_seconds')
               + [
                 r.record(
                   r.name('app', 'kpi_vulnerability_fix_seconds_critical', 'p50_' + long),
                   p.quantileOf(0.5, r.levels[0].labels, '(\n%s\n)\n- (\n%s\n)\nor (\n%s\n)'
                                                        % [net[0], net[1], net[0]]),
                 ),
               ],
      alerts: [
        {
          name: 'VulnerabilityFixTimeHigh',
          settings: setting(self.name),
          local limit = duration.text(duration.seconds(self.settings.threshold)),
          expr: '%s > %s' % [
            r.name('app', 'kpi_vulnerability_fix_seconds_critical', 'p50_' + long),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'Critical security findings take too long to fix.',
          description: 'The median critical security finding of %s fixed over the last %s'
                       % [who, long] + ' took {{ $value | humanizeDuration }} to fix; the'
                       + ' target is under %s.' % limit,
          meaning: 'The median time to fix (created to fixed) of the critical findings fixed'
                   + ' in the last %s: how long the app stays exposed to a known critical' % long
                   + ' vulnerability.',
          threshold: 'Median time to fix of the critical findings fixed in the last %s above %s.'
                     % [long, limit],
          next: [
            'The 90th percentile of all severities (`app:kpi_vulnerability_fix_seconds:p90_%s`):'
            % long + ' a few very old findings, or all of them slow?',
            'Which scanner found the slow ones (`kpi_vulnerabilities_fixed_total` by scanner):'
            + ' dependency updates that wait for review, or images rebuilt rarely?',
          ],
        },
      ],
    },
    {
      name: 'vulnerabilities_closed',
      title: 'Fixed and dismissed security findings',
      unit: 'findings',
      grafana_unit: 'short',  // for dashboards
      direction: 'higher',
      meaning: 'Findings fixed and findings dismissed (false positive, accepted risk, won\'t'
               + ' fix) in the window, and the share of the closed ones that were fixed.',
      definition: definition,
      group: 'kpi-vulnerabilities-closed',
      local fixed(level, window) = r.name(level.name, 'kpi_vulnerabilities_fixed',
                                          'increase_' + window),
      local dismissed(level, window) = r.name(level.name, 'kpi_vulnerabilities_dismissed',
                                              'increase_' + window),
      local closed(level, window) = r.name(level.name, 'kpi_vulnerabilities_closed',
                                           'increase_' + window),
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_vulnerabilities_fixed:increase_7d',
        'team:kpi_vulnerabilities_fixed:increase_7d',
        'org:kpi_vulnerabilities_fixed:increase_7d',
        'app:kpi_vulnerabilities_fixed:increase_30d',
        'team:kpi_vulnerabilities_fixed:increase_30d',
        'org:kpi_vulnerabilities_fixed:increase_30d',
        'app:kpi_vulnerabilities_fixed:increase_90d',
        'team:kpi_vulnerabilities_fixed:increase_90d',
        'org:kpi_vulnerabilities_fixed:increase_90d',
        'app:kpi_vulnerabilities_dismissed:increase_7d',
        'team:kpi_vulnerabilities_dismissed:increase_7d',
        'org:kpi_vulnerabilities_dismissed:increase_7d',
        'app:kpi_vulnerabilities_dismissed:increase_30d',
        'team:kpi_vulnerabilities_dismissed:increase_30d',
        'org:kpi_vulnerabilities_dismissed:increase_30d',
        'app:kpi_vulnerabilities_dismissed:increase_90d',
        'team:kpi_vulnerabilities_dismissed:increase_90d',
        'org:kpi_vulnerabilities_dismissed:increase_90d',
        'app:kpi_vulnerabilities_closed:increase_7d',
        'team:kpi_vulnerabilities_closed:increase_7d',
        'org:kpi_vulnerabilities_closed:increase_7d',
        'app:kpi_vulnerabilities_closed:increase_30d',
        'team:kpi_vulnerabilities_closed:increase_30d',
        'org:kpi_vulnerabilities_closed:increase_30d',
        'app:kpi_vulnerabilities_closed:increase_90d',
        'team:kpi_vulnerabilities_closed:increase_90d',
        'org:kpi_vulnerabilities_closed:increase_90d',
        'app:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_7d',
        'team:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_7d',
        'org:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_7d',
        'app:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_30d',
        'team:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_30d',
        'org:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_30d',
        'app:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_90d',
        'team:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_90d',
        'org:kpi_vulnerabilities_fixed_per_vulnerabilities_closed:ratio_90d',
      ],
      records: records.counts('kpi_vulnerabilities_fixed')
               + records.counts('kpi_vulnerabilities_dismissed')
               + r.perLevelWindow(config, function(level, window) r.record(
                 closed(level, window),
                 '(%s or 0 * %s) + (%s or 0 * %s)' % [
                   fixed(level, window),
                   dismissed(level, window),
                   dismissed(level, window),
                   fixed(level, window),
                 ],
               ))
               + records.ratios('kpi_vulnerabilities_fixed', 'kpi_vulnerabilities_closed'),
      alerts: [],
    },
    {
      name: 'security_coverage',
      title: 'Security scanning coverage',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'higher',
      meaning: 'The share of active repositories with each security feature enabled: code'
               + ' scanning (GitHub has analysed the repository) and secret scanning (from'
               + ' GitHub, `github_coverage` source).',
      definition: 'definitions.md#security-coverage-and-dependency-updates',
      group: 'kpi-security-coverage',
      local enabled(level) = r.name(level.name, 'kpi_security_repositories_enabled', 'sum'),
      local assessed(level) = r.name(level.name, 'kpi_security_repositories', 'sum'),
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_security_repositories:sum',
        'team:kpi_security_repositories:sum',
        'org:kpi_security_repositories:sum',
        'app:kpi_security_repositories_enabled:sum',
        'team:kpi_security_repositories_enabled:sum',
        'org:kpi_security_repositories_enabled:sum',
        'app:kpi_security_repositories_enabled_per_repositories:ratio',
        'team:kpi_security_repositories_enabled_per_repositories:ratio',
        'org:kpi_security_repositories_enabled_per_repositories:ratio',
      ],
      records: records.sums('kpi_security_repositories', ['feature'])
               + records.sums('kpi_security_repositories_enabled', ['feature'])
               + r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_security_repositories_enabled_per_repositories', 'ratio'),
                 p.ratio(enabled(level), assessed(level)),
               )),
      alerts: [
        {
          name: 'SecurityCoverageLow',
          settings: setting(self.name),
          local threshold = p.num(self.settings.threshold),
          expr: 'team:kpi_security_repositories_enabled_per_repositories:ratio < %s'
                % threshold,
          summary: 'Too few repositories of the team run a security scan.',
          description: 'Only {{ $value | humanizePercentage }} of the repositories of team'
                       + ' {{ $labels.team }} have {{ $labels.feature }} enabled; the target is'
                       + ' at least %s.' % p.percent(self.settings.threshold),
          meaning: $.meaning,
          threshold: 'Less than %s of the active repositories of the team with code scanning'
                     % p.percent(self.settings.threshold) + ' (or secret scanning) enabled:'
                     + ' the seed\'s "security test coverage above 80 %".',
          next: [
            'The repositories of the team without the feature'
            + ' (`app:kpi_security_repositories_enabled_per_repositories:ratio < 1`, then the'
            + ' repositories of those apps in the organisation\'s security overview).',
            'Whether code scanning runs but fails: a repository whose analyses stopped keeps'
            + ' its old alerts; the `github_security` source shows them.',
          ],
        },
      ],
    },
    {
      name: 'dependency_updates',
      title: 'Dependency updates left open',
      unit: 'pull requests',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Open dependency update pull requests (Dependabot, Renovate) and how many have'
               + ' been open longer than each age (1h, 1d, 3d, 7d, 14d, 30d): the measurable'
               + ' stand-in for dependency age, a dependency left behind its proposed update.',
      definition: 'definitions.md#security-coverage-and-dependency-updates',
      group: 'kpi-dependency-updates',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_dependency_updates_open:sum',
        'team:kpi_dependency_updates_open:sum',
        'org:kpi_dependency_updates_open:sum',
        'app:kpi_dependency_updates_open_by_age:sum',
        'team:kpi_dependency_updates_open_by_age:sum',
        'org:kpi_dependency_updates_open_by_age:sum',
      ],
      records: records.sums('kpi_dependency_updates_open')
               + records.sums('kpi_dependency_updates_open_by_age', ['older_than']),
      alerts: [
        {
          name: 'DependencyUpdatesStale',
          settings: setting(self.name),
          local age = self.settings.age,
          local ages = ['1h', '1d', '3d', '7d', '14d', '30d'],
          assert std.member(ages, age) : 'DependencyUpdatesStale.age must be one of %s'
                                         % std.join(', ', ages),
          expr: 'sum without (older_than) (app:kpi_dependency_updates_open_by_age:sum'
                + '{older_than="%s"})' % age
                + '\n/ app:kpi_dependency_updates_open:sum > %s'
                % p.num(self.settings.threshold),
          summary: 'Dependency updates wait too long to be merged.',
          description: '{{ $value | humanizePercentage }} of the open dependency update pull'
                       + ' requests of %s have been open for more than %s; the target is at'
                       % [who, age] + ' most %s.' % p.percent(self.settings.threshold),
          meaning: $.meaning,
          threshold: 'More than %s of the open dependency update pull requests of the app'
                     % p.percent(self.settings.threshold) + ' open for more than %s' % age
                     + ' (the seed\'s "dependency age" under 20 %).',
          next: [
            'The open dependency update pull requests of the app, oldest first: a failing'
            + ' check, a major version that needs code changes, or nobody reviewing them?',
            'Security findings of the app\'s dependencies (`kpi_vulnerabilities_open`'
            + ' by scanner `dependabot`): an old update often carries a fix.',
          ],
        },
      ],
    },
  ]
