// Flow KPIs: where a change's time goes (coding, pickup, review, deploy), change size, merged
// and unreviewed changes, work in progress and its age. Definitions:
// docs/definitions.md#flow-where-a-changes-time-goes.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

// The ages kpi_changes_open_by_age counts (label older_than), as the exporter publishes them.
local ages = ['1h', '1d', '3d', '7d', '14d', '30d'];

function(config)
  // The configured engineers of every team in a window's record, 0 (unknown) for the teams
  // not listed, which then get no per-engineer value.
  local teamSizes(window) = std.join(' or ', [
    'label_replace(vector(%s), "team", "%s", "", "")' % [config.team_sizes[team], team]
    for team in std.objectFields(config.team_sizes)
  ] + ['0 * team:kpi_changes_merged:per_week_' + window]);
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local who = '{{ $labels.app }} (team {{ $labels.team }})';
  local definition = 'definitions.md#flow-where-a-changes-time-goes';

  // Each stage below lists the names its rules record (`recorded`, default configuration; a
  // test compares them with the rules).
  local stage(name, title, from, to, alerts=[]) = {
    name: 'change_%s_time' % name,
    title: title,
    unit: 'seconds',
    grafana_unit: 's',  // for dashboards
    direction: 'lower',
    meaning: '%s of merged changes: from %s to %s (median, 75th and 90th percentiles of'
             % [title, from, to] + ' the changes %s in the window).'
             % (if name == 'deploy' then 'deployed' else 'merged'),
    definition: definition,
    group: 'kpi-flow-' + name,
    records: records.quantiles('kpi_change_%s_seconds' % name),
    alerts: alerts,
  };

  // The WIP limit of every team: the configured ones, and the default for the others.
  local limits = config.wip_limits;
  local wipLimit = std.join(' or ', [
    'label_replace(vector(%s), "team", "%s", "", "")' % [p.num(limits.teams[team]), team]
    for team in std.objectFields(limits.teams)
  ] + ['0 * team:kpi_changes_open:sum + %s' % p.num(limits.default)]);

  [
    stage('coding', 'Coding time', 'first commit', 'opened') {
      recorded:: [
        'app:kpi_change_coding_seconds:p50_7d',
        'team:kpi_change_coding_seconds:p50_7d',
        'org:kpi_change_coding_seconds:p50_7d',
        'app:kpi_change_coding_seconds:p75_7d',
        'team:kpi_change_coding_seconds:p75_7d',
        'org:kpi_change_coding_seconds:p75_7d',
        'app:kpi_change_coding_seconds:p90_7d',
        'team:kpi_change_coding_seconds:p90_7d',
        'org:kpi_change_coding_seconds:p90_7d',
        'app:kpi_change_coding_seconds:p50_30d',
        'team:kpi_change_coding_seconds:p50_30d',
        'org:kpi_change_coding_seconds:p50_30d',
        'app:kpi_change_coding_seconds:p75_30d',
        'team:kpi_change_coding_seconds:p75_30d',
        'org:kpi_change_coding_seconds:p75_30d',
        'app:kpi_change_coding_seconds:p90_30d',
        'team:kpi_change_coding_seconds:p90_30d',
        'org:kpi_change_coding_seconds:p90_30d',
        'app:kpi_change_coding_seconds:p50_90d',
        'team:kpi_change_coding_seconds:p50_90d',
        'org:kpi_change_coding_seconds:p50_90d',
        'app:kpi_change_coding_seconds:p75_90d',
        'team:kpi_change_coding_seconds:p75_90d',
        'org:kpi_change_coding_seconds:p75_90d',
        'app:kpi_change_coding_seconds:p90_90d',
        'team:kpi_change_coding_seconds:p90_90d',
        'org:kpi_change_coding_seconds:p90_90d',
      ],
    },
    stage('pickup', 'Pickup time', 'opened', 'the first review or comment by someone else') {
      recorded:: [
        'app:kpi_change_pickup_seconds:p50_7d',
        'team:kpi_change_pickup_seconds:p50_7d',
        'org:kpi_change_pickup_seconds:p50_7d',
        'app:kpi_change_pickup_seconds:p75_7d',
        'team:kpi_change_pickup_seconds:p75_7d',
        'org:kpi_change_pickup_seconds:p75_7d',
        'app:kpi_change_pickup_seconds:p90_7d',
        'team:kpi_change_pickup_seconds:p90_7d',
        'org:kpi_change_pickup_seconds:p90_7d',
        'app:kpi_change_pickup_seconds:p50_30d',
        'team:kpi_change_pickup_seconds:p50_30d',
        'org:kpi_change_pickup_seconds:p50_30d',
        'app:kpi_change_pickup_seconds:p75_30d',
        'team:kpi_change_pickup_seconds:p75_30d',
        'org:kpi_change_pickup_seconds:p75_30d',
        'app:kpi_change_pickup_seconds:p90_30d',
        'team:kpi_change_pickup_seconds:p90_30d',
        'org:kpi_change_pickup_seconds:p90_30d',
        'app:kpi_change_pickup_seconds:p50_90d',
        'team:kpi_change_pickup_seconds:p50_90d',
        'org:kpi_change_pickup_seconds:p50_90d',
        'app:kpi_change_pickup_seconds:p75_90d',
        'team:kpi_change_pickup_seconds:p75_90d',
        'org:kpi_change_pickup_seconds:p75_90d',
        'app:kpi_change_pickup_seconds:p90_90d',
        'team:kpi_change_pickup_seconds:p90_90d',
        'org:kpi_change_pickup_seconds:p90_90d',
      ],
      local kpi = self,
      alerts: [
        {
          name: 'ChangePickupTimeHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local limit = duration.text(duration.seconds(self.settings.threshold)),
          expr: '%s > %s' % [
            r.name('app', 'kpi_change_pickup_seconds', 'p50_' + window),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'Changes wait too long for a first review.',
          description: 'The median change of %s waited {{ $value | humanizeDuration }} for a'
                       % who + ' first review over the last %s; the target is under %s.'
                       % [window, limit],
          meaning: kpi.meaning,
          threshold: 'Median pickup time of the changes merged in the last %s above %s.'
                     % [window, limit],
          next: [
            'The open changes waiting for review now: `kpi_changes_open_by_age`.',
            "The team's work in progress (`team:kpi_changes_open:sum`): reviews wait when"
            + ' everyone is busy with their own changes.',
            'Change size (`app:kpi_change_size_lines:p50_%s`): large changes wait longer.'
            % window,
          ],
        },
      ],
    },
    stage('review', 'Review time', 'the first review', 'merge') {
      recorded:: [
        'app:kpi_change_review_seconds:p50_7d',
        'team:kpi_change_review_seconds:p50_7d',
        'org:kpi_change_review_seconds:p50_7d',
        'app:kpi_change_review_seconds:p75_7d',
        'team:kpi_change_review_seconds:p75_7d',
        'org:kpi_change_review_seconds:p75_7d',
        'app:kpi_change_review_seconds:p90_7d',
        'team:kpi_change_review_seconds:p90_7d',
        'org:kpi_change_review_seconds:p90_7d',
        'app:kpi_change_review_seconds:p50_30d',
        'team:kpi_change_review_seconds:p50_30d',
        'org:kpi_change_review_seconds:p50_30d',
        'app:kpi_change_review_seconds:p75_30d',
        'team:kpi_change_review_seconds:p75_30d',
        'org:kpi_change_review_seconds:p75_30d',
        'app:kpi_change_review_seconds:p90_30d',
        'team:kpi_change_review_seconds:p90_30d',
        'org:kpi_change_review_seconds:p90_30d',
        'app:kpi_change_review_seconds:p50_90d',
        'team:kpi_change_review_seconds:p50_90d',
        'org:kpi_change_review_seconds:p50_90d',
        'app:kpi_change_review_seconds:p75_90d',
        'team:kpi_change_review_seconds:p75_90d',
        'org:kpi_change_review_seconds:p75_90d',
        'app:kpi_change_review_seconds:p90_90d',
        'team:kpi_change_review_seconds:p90_90d',
        'org:kpi_change_review_seconds:p90_90d',
      ],
    },
    stage('deploy', 'Deploy time', 'merge', 'the end of the first production deployment') {
      recorded:: [
        'app:kpi_change_deploy_seconds:p50_7d',
        'team:kpi_change_deploy_seconds:p50_7d',
        'org:kpi_change_deploy_seconds:p50_7d',
        'app:kpi_change_deploy_seconds:p75_7d',
        'team:kpi_change_deploy_seconds:p75_7d',
        'org:kpi_change_deploy_seconds:p75_7d',
        'app:kpi_change_deploy_seconds:p90_7d',
        'team:kpi_change_deploy_seconds:p90_7d',
        'org:kpi_change_deploy_seconds:p90_7d',
        'app:kpi_change_deploy_seconds:p50_30d',
        'team:kpi_change_deploy_seconds:p50_30d',
        'org:kpi_change_deploy_seconds:p50_30d',
        'app:kpi_change_deploy_seconds:p75_30d',
        'team:kpi_change_deploy_seconds:p75_30d',
        'org:kpi_change_deploy_seconds:p75_30d',
        'app:kpi_change_deploy_seconds:p90_30d',
        'team:kpi_change_deploy_seconds:p90_30d',
        'org:kpi_change_deploy_seconds:p90_30d',
        'app:kpi_change_deploy_seconds:p50_90d',
        'team:kpi_change_deploy_seconds:p50_90d',
        'org:kpi_change_deploy_seconds:p50_90d',
        'app:kpi_change_deploy_seconds:p75_90d',
        'team:kpi_change_deploy_seconds:p75_90d',
        'org:kpi_change_deploy_seconds:p75_90d',
        'app:kpi_change_deploy_seconds:p90_90d',
        'team:kpi_change_deploy_seconds:p90_90d',
        'org:kpi_change_deploy_seconds:p90_90d',
      ],
    },
    {
      name: 'change_size',
      title: 'Change size',
      unit: 'lines',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Lines changed by merged changes, as the source counts them (median, 75th and'
               + ' 90th percentiles of the changes merged in the window).',
      definition: definition,
      group: 'kpi-change-size',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_change_size_lines:p50_7d',
        'team:kpi_change_size_lines:p50_7d',
        'org:kpi_change_size_lines:p50_7d',
        'app:kpi_change_size_lines:p75_7d',
        'team:kpi_change_size_lines:p75_7d',
        'org:kpi_change_size_lines:p75_7d',
        'app:kpi_change_size_lines:p90_7d',
        'team:kpi_change_size_lines:p90_7d',
        'org:kpi_change_size_lines:p90_7d',
        'app:kpi_change_size_lines:p50_30d',
        'team:kpi_change_size_lines:p50_30d',
        'org:kpi_change_size_lines:p50_30d',
        'app:kpi_change_size_lines:p75_30d',
        'team:kpi_change_size_lines:p75_30d',
        'org:kpi_change_size_lines:p75_30d',
        'app:kpi_change_size_lines:p90_30d',
        'team:kpi_change_size_lines:p90_30d',
        'org:kpi_change_size_lines:p90_30d',
        'app:kpi_change_size_lines:p50_90d',
        'team:kpi_change_size_lines:p50_90d',
        'org:kpi_change_size_lines:p50_90d',
        'app:kpi_change_size_lines:p75_90d',
        'team:kpi_change_size_lines:p75_90d',
        'org:kpi_change_size_lines:p75_90d',
        'app:kpi_change_size_lines:p90_90d',
        'team:kpi_change_size_lines:p90_90d',
        'org:kpi_change_size_lines:p90_90d',
      ],
      records: records.quantiles('kpi_change_size_lines'),
      alerts: [
        {
          name: 'ChangeSizeLarge',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_change_size_lines', 'p50_' + window),
            p.num(self.settings.threshold),
          ],
          summary: 'Changes are too large to review well.',
          description: 'The median change of %s changed {{ $value | humanize }} lines over'
                       % who + ' the last %s; the target is under %s lines.'
                       % [window, p.num(self.settings.threshold)],
          meaning: $.meaning,
          threshold: 'Median size of the changes merged in the last %s above %s lines.'
                     % [window, p.num(self.settings.threshold)],
          next: [
            'The largest changes of the window: generated files, vendored code or'
            + ' formatting changes inflate the count.',
            'Review time and change failure rate of the same app: large changes review'
            + ' slower and fail more often.',
          ],
        },
      ],
    },
    {
      name: 'changes_merged',
      title: 'Merged and unreviewed changes',
      unit: 'changes',
      grafana_unit: 'short',  // for dashboards
      direction: 'higher',
      meaning: 'Changes merged in the window (and per week: the throughput), and the share of'
               + ' them that nobody but their author reviewed or approved before the merge.',
      definition: definition,
      group: 'kpi-changes-merged',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_changes_merged:increase_7d',
        'team:kpi_changes_merged:increase_7d',
        'org:kpi_changes_merged:increase_7d',
        'app:kpi_changes_merged:increase_30d',
        'team:kpi_changes_merged:increase_30d',
        'org:kpi_changes_merged:increase_30d',
        'app:kpi_changes_merged:increase_90d',
        'team:kpi_changes_merged:increase_90d',
        'org:kpi_changes_merged:increase_90d',
        'app:kpi_changes_merged_unreviewed:increase_7d',
        'team:kpi_changes_merged_unreviewed:increase_7d',
        'org:kpi_changes_merged_unreviewed:increase_7d',
        'app:kpi_changes_merged_unreviewed:increase_30d',
        'team:kpi_changes_merged_unreviewed:increase_30d',
        'org:kpi_changes_merged_unreviewed:increase_30d',
        'app:kpi_changes_merged_unreviewed:increase_90d',
        'team:kpi_changes_merged_unreviewed:increase_90d',
        'org:kpi_changes_merged_unreviewed:increase_90d',
        'app:kpi_changes_merged_unreviewed_per_changes_merged:ratio_7d',
        'team:kpi_changes_merged_unreviewed_per_changes_merged:ratio_7d',
        'org:kpi_changes_merged_unreviewed_per_changes_merged:ratio_7d',
        'app:kpi_changes_merged_unreviewed_per_changes_merged:ratio_30d',
        'team:kpi_changes_merged_unreviewed_per_changes_merged:ratio_30d',
        'org:kpi_changes_merged_unreviewed_per_changes_merged:ratio_30d',
        'app:kpi_changes_merged_unreviewed_per_changes_merged:ratio_90d',
        'team:kpi_changes_merged_unreviewed_per_changes_merged:ratio_90d',
        'org:kpi_changes_merged_unreviewed_per_changes_merged:ratio_90d',
        'app:kpi_changes_merged:per_week_7d',
        'team:kpi_changes_merged:per_week_7d',
        'org:kpi_changes_merged:per_week_7d',
        'app:kpi_changes_merged:per_week_30d',
        'team:kpi_changes_merged:per_week_30d',
        'org:kpi_changes_merged:per_week_30d',
        'app:kpi_changes_merged:per_week_90d',
        'team:kpi_changes_merged:per_week_90d',
        'org:kpi_changes_merged:per_week_90d',
        'team:kpi_changes_merged:per_engineer_per_week_7d',
        'team:kpi_changes_merged:per_engineer_per_week_30d',
        'team:kpi_changes_merged:per_engineer_per_week_90d',
      ],
      records: records.counts('kpi_changes_merged')
               + records.counts('kpi_changes_merged_unreviewed')
               + records.ratios('kpi_changes_merged_unreviewed', 'kpi_changes_merged')
               // Throughput: merged changes per week of the window, per team (never per
               // person).
               + r.perLevelWindow(config, function(level, window) r.record(
                 r.name(level.name, 'kpi_changes_merged', 'per_week_' + window),
                 '%s * 7 / %s' % [
                   r.name(level.name, 'kpi_changes_merged', 'increase_' + window),
                   p.num(duration.days(window)),
                 ],
               ))
               // Per engineer: only for the teams whose size the configuration gives
               // (`team_sizes`); the exporter knows no person, so nothing else can say it.
               + [
                 r.ofWindow(window, r.record(
                   'team:kpi_changes_merged:per_engineer_per_week_' + window,
                   'team:kpi_changes_merged:per_week_%s\n/ on (team)\n((%s) > 0)'
                   % [window, teamSizes(window)],
                 ))
                 for window in r.windows(config)
               ],
      alerts: [
        {
          name: 'UnreviewedMergesHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_changes_merged_unreviewed_per_changes_merged', 'ratio_' + window),
            p.num(self.settings.threshold),
          ],
          summary: 'Changes are merged without a review.',
          description: '{{ $value | humanizePercentage }} of the changes of %s merged over the'
                       % who + ' last %s had no review by anyone but their author; the target'
                       % window + ' is at most %s.' % p.percent(self.settings.threshold),
          meaning: 'The share of merged changes that nobody but their author reviewed or'
                   + ' approved before the merge.',
          threshold: 'More than %s of the changes merged in the last %s unreviewed.'
                     % [p.percent(self.settings.threshold), window],
          next: [
            'The branch protection rules of the repositories of the app.',
            'The unreviewed merges of the window: who can bypass the review, and why.',
          ],
        },
      ],
    },
    {
      name: 'work_in_progress',
      title: 'Work in progress',
      unit: 'changes',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Changes open now (opened, neither merged nor closed), and how many of them'
               + ' have been open longer than each age (1h, 1d, 3d, 7d, 14d, 30d).',
      definition: 'definitions.md#flow-where-a-changes-time-goes',
      group: 'kpi-work-in-progress',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_changes_open:sum',
        'team:kpi_changes_open:sum',
        'org:kpi_changes_open:sum',
        'app:kpi_changes_open_by_age:sum',
        'team:kpi_changes_open_by_age:sum',
        'org:kpi_changes_open_by_age:sum',
        'team:kpi_changes_open:wip_limit',
      ],
      records: records.sums('kpi_changes_open')
               + records.sums('kpi_changes_open_by_age', ['older_than'])
               + [r.record('team:kpi_changes_open:wip_limit', wipLimit)],
      alerts: [
        {
          name: 'WorkInProgressAboveLimit',
          settings: setting(self.name),
          expr: 'team:kpi_changes_open:sum > on (team) team:kpi_changes_open:wip_limit',
          summary: 'The team has more changes open than its WIP limit.',
          description: 'Team {{ $labels.team }} has {{ $value | humanize }} changes open, above'
                       + ' its WIP limit of {{ with printf "team:kpi_changes_open:wip_limit'
                       + '{team=%q}" $labels.team | query }}{{ . | first | value }}{{ end }}.',
          meaning: 'Open changes of the team, against its work in progress limit: the more'
                   + ' work a team does in parallel, the longer everything waits in queues.',
          threshold: 'More open changes than the limit of the team (`wip_limits`: default %s%s).'
                     % [
                       p.num(limits.default),
                       std.join('', [
                         ', %s %s' % [team, p.num(limits.teams[team])]
                         for team in std.objectFields(limits.teams)
                       ]),
                     ],
          next: [
            'The open changes of the team by age (`app:kpi_changes_open_by_age:sum`): finish'
            + ' the oldest first.',
            'Pickup time of the team: changes waiting for review pile up as work in progress.',
          ],
        },
        {
          name: 'ChangesOpenTooLong',
          settings: setting(self.name),
          local age = self.settings.threshold,
          assert std.member(ages, age) || p.isMarker(age) :
                 'ChangesOpenTooLong.threshold must be one of %s'
                 % std.join(', ', ages),
          expr: 'app:kpi_changes_open_by_age:sum{older_than="%s"} > 0' % age,
          summary: 'Changes have been open for too long.',
          description: '{{ $value | humanize }} changes of %s have been open for more than %s.'
                       % [who, age],
          meaning: 'Open changes older than an age: work that started and waits, for a'
                   + ' review, a decision or a deployment.',
          threshold: 'At least one change open for more than %s.' % age,
          next: [
            'The open pull or merge requests of the app, oldest first.',
            "The team's work in progress against its limit (`team:kpi_changes_open:sum`).",
          ],
        },
      ],
    },
  ]
