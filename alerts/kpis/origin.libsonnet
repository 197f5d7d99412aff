// Where merged changes come from (origin: human, ai_agent, bot), per team and app: merged
// changes by origin and their share, the share merged with no human review, review time and
// the revert rate, AI agents' against the others'. Definitions:
// docs/definitions.md#where-changes-come-from-origin.
//
// Withheld below a minimum: every record split by origin exists only for a team (and its
// apps) that merged at least `origins.min_changes` changes (every origin together) in the
// window, and for the organisation likewise: in a smaller team an origin's share points at
// a few people. The exporter publishes the app-level window counts by origin; the
// dashboards and alerts read these records only.
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

local origins = ['human', 'ai_agent', 'bot'];

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local min = config.origins.min_changes;
  local definition = 'definitions.md#where-changes-come-from-origin';
  local who = 'team {{ $labels.team }}';

  // Every change merged in the window, every origin together, per level: what the minimum
  // is compared with (not split by origin, so never withheld).
  local all(level, window) = r.name(level.name, 'kpi_changes_merged_all_origins', 'increase_' + window);
  // An app's split shows when its team's does.
  local shown(level, window) =
    local guard = if level.name == 'app' then r.levels[1] else level;
    '\nand on (%s) %s >= %s' % [std.join(', ', guard.labels), all(guard, window), p.num(min)];

  // level:metric:increase_<window> by origin, withheld below the minimum.
  local counts(metric) = r.perLevelWindow(config, function(level, window) r.record(
    r.name(level.name, metric, 'increase_' + window),
    p.sum(level.labels + ['origin'], records.inWindow(metric, window)) + shown(level, window),
  ));
  // level:<numerator>_per_changes_merged_by_origin:ratio_<window>, per origin.
  local ratios(numerator, name) = r.perLevelWindow(config, function(level, window) r.record(
    r.name(level.name, name, 'ratio_' + window),
    p.ratio(
      r.name(level.name, numerator, 'increase_' + window),
      r.name(level.name, 'kpi_changes_merged_by_origin', 'increase_' + window),
    ),
  ));
  // The review time quantiles of each origin (one exporter family each), with the `origin`
  // label added; at the levels a sharded exporter cannot see whole, estimated from the
  // buckets of every shard, as every quantile record is.
  local reviewQuantiles = std.flattenArrays([
    [
      r.ofWindow(window, r.record(
        r.name(level.name, 'kpi_change_review_seconds_by_origin', r.quantileName(q) + '_' + window),
        '(\n' + std.join('\nor\n', [
          local family = 'kpi_change_review_%s_seconds' % origin;
          local exact = p.aggregate('max', level.labels, records.inWindow(
            family, window, level.matchers + ['percentile="' + p.num(q * 100) + '"']
          ));
          local value = if level.name == 'app' then exact
          else '(' + exact + '\nor\n' + p.quantileOf(q, level.labels, records.exporter(
            records.windowFamily(family) + '_observations',
            ['window="' + window + '"'] + level.matchers
          )) + ')';
          'label_replace(%s, "origin", "%s", "", "")' % [value, origin]
          for origin in origins
        ]) + '\n)' + shown(level, window),
      ))
      for q in config.quantiles
      for level in r.levels
    ]
    for window in r.windows(config)
  ]);

  // The records of one window and level, in the order they depend on each other.
  local rules = r.perLevelWindow(config, function(level, window) r.record(
    all(level, window),
    p.sum(level.labels, if level.name == 'app'
      then records.inWindow('kpi_changes_merged_by_origin', window)
      else r.name('app', 'kpi_changes_merged_all_origins', 'increase_' + window)),
  ))
  + counts('kpi_changes_merged_by_origin')
  + counts('kpi_changes_merged_unreviewed_by_origin')
  + counts('kpi_changes_reverted')
  + r.perLevelWindow(config, function(level, window) r.record(
    r.name(level.name, 'kpi_changes_merged_by_origin', 'share_' + window),
    '%s\n/ on (%s) group_left ()\n%s' % [
      r.name(level.name, 'kpi_changes_merged_by_origin', 'increase_' + window),
      std.join(', ', level.labels),
      '(' + all(level, window) + ' > 0)',
    ],
  ))
  // The rates and review times in groups of their own (at most 20 rules a group): they read
  // the counts of the group above as of its last evaluation.
  + [
    rule { group:: 'kpi-origin-rates-' + rule.window }
    for rule in ratios(
      'kpi_changes_merged_unreviewed_by_origin',
      'kpi_changes_merged_unreviewed_per_changes_merged_by_origin'
    )
    + ratios('kpi_changes_reverted', 'kpi_changes_reverted_per_changes_merged_by_origin')
    + reviewQuantiles
  ];

  local ratio(name, window) = r.name('team', name, 'ratio_' + window);
  local aiChanges(window, least) =
    '\nand on (team)\n%s{origin="ai_agent"} >= %s'
    % [r.name('team', 'kpi_changes_merged_by_origin', 'increase_' + window), p.num(least)];

  [
    {
      name: 'changes_by_origin',
      title: 'Where changes come from',
      unit: 'ratio',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'neutral',
      meaning: 'Merged changes by origin (human, AI agent, bot) and their share, the share'
               + ' merged with no review by a person other than their author, the review time'
               + ' and the share reverted since, per team; withheld for a team that merged'
               + ' fewer than %s changes in the window.' % p.num(min),
      definition: definition,
      group: 'kpi-origin',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_changes_merged_all_origins:increase_7d',
        'team:kpi_changes_merged_all_origins:increase_7d',
        'org:kpi_changes_merged_all_origins:increase_7d',
        'app:kpi_changes_merged_all_origins:increase_30d',
        'team:kpi_changes_merged_all_origins:increase_30d',
        'org:kpi_changes_merged_all_origins:increase_30d',
        'app:kpi_changes_merged_all_origins:increase_90d',
        'team:kpi_changes_merged_all_origins:increase_90d',
        'org:kpi_changes_merged_all_origins:increase_90d',
        'app:kpi_changes_merged_by_origin:increase_7d',
        'team:kpi_changes_merged_by_origin:increase_7d',
        'org:kpi_changes_merged_by_origin:increase_7d',
        'app:kpi_changes_merged_by_origin:increase_30d',
        'team:kpi_changes_merged_by_origin:increase_30d',
        'org:kpi_changes_merged_by_origin:increase_30d',
        'app:kpi_changes_merged_by_origin:increase_90d',
        'team:kpi_changes_merged_by_origin:increase_90d',
        'org:kpi_changes_merged_by_origin:increase_90d',
        'app:kpi_changes_merged_unreviewed_by_origin:increase_7d',
        'team:kpi_changes_merged_unreviewed_by_origin:increase_7d',
        'org:kpi_changes_merged_unreviewed_by_origin:increase_7d',
        'app:kpi_changes_merged_unreviewed_by_origin:increase_30d',
        'team:kpi_changes_merged_unreviewed_by_origin:increase_30d',
        'org:kpi_changes_merged_unreviewed_by_origin:increase_30d',
        'app:kpi_changes_merged_unreviewed_by_origin:increase_90d',
        'team:kpi_changes_merged_unreviewed_by_origin:increase_90d',
        'org:kpi_changes_merged_unreviewed_by_origin:increase_90d',
        'app:kpi_changes_reverted:increase_7d',
        'team:kpi_changes_reverted:increase_7d',
        'org:kpi_changes_reverted:increase_7d',
        'app:kpi_changes_reverted:increase_30d',
        'team:kpi_changes_reverted:increase_30d',
        'org:kpi_changes_reverted:increase_30d',
        'app:kpi_changes_reverted:increase_90d',
        'team:kpi_changes_reverted:increase_90d',
        'org:kpi_changes_reverted:increase_90d',
        'app:kpi_changes_merged_by_origin:share_7d',
        'team:kpi_changes_merged_by_origin:share_7d',
        'org:kpi_changes_merged_by_origin:share_7d',
        'app:kpi_changes_merged_by_origin:share_30d',
        'team:kpi_changes_merged_by_origin:share_30d',
        'org:kpi_changes_merged_by_origin:share_30d',
        'app:kpi_changes_merged_by_origin:share_90d',
        'team:kpi_changes_merged_by_origin:share_90d',
        'org:kpi_changes_merged_by_origin:share_90d',
        'app:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_7d',
        'team:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_7d',
        'org:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_7d',
        'app:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_30d',
        'team:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_30d',
        'org:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_30d',
        'app:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_90d',
        'team:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_90d',
        'org:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_90d',
        'app:kpi_changes_reverted_per_changes_merged_by_origin:ratio_7d',
        'team:kpi_changes_reverted_per_changes_merged_by_origin:ratio_7d',
        'org:kpi_changes_reverted_per_changes_merged_by_origin:ratio_7d',
        'app:kpi_changes_reverted_per_changes_merged_by_origin:ratio_30d',
        'team:kpi_changes_reverted_per_changes_merged_by_origin:ratio_30d',
        'org:kpi_changes_reverted_per_changes_merged_by_origin:ratio_30d',
        'app:kpi_changes_reverted_per_changes_merged_by_origin:ratio_90d',
        'team:kpi_changes_reverted_per_changes_merged_by_origin:ratio_90d',
        'org:kpi_changes_reverted_per_changes_merged_by_origin:ratio_90d',
        'app:kpi_change_review_seconds_by_origin:p50_7d',
        'team:kpi_change_review_seconds_by_origin:p50_7d',
        'org:kpi_change_review_seconds_by_origin:p50_7d',
        'app:kpi_change_review_seconds_by_origin:p75_7d',
        'team:kpi_change_review_seconds_by_origin:p75_7d',
        'org:kpi_change_review_seconds_by_origin:p75_7d',
        'app:kpi_change_review_seconds_by_origin:p90_7d',
        'team:kpi_change_review_seconds_by_origin:p90_7d',
        'org:kpi_change_review_seconds_by_origin:p90_7d',
        'app:kpi_change_review_seconds_by_origin:p50_30d',
        'team:kpi_change_review_seconds_by_origin:p50_30d',
        'org:kpi_change_review_seconds_by_origin:p50_30d',
        'app:kpi_change_review_seconds_by_origin:p75_30d',
        'team:kpi_change_review_seconds_by_origin:p75_30d',
        'org:kpi_change_review_seconds_by_origin:p75_30d',
        'app:kpi_change_review_seconds_by_origin:p90_30d',
        'team:kpi_change_review_seconds_by_origin:p90_30d',
        'org:kpi_change_review_seconds_by_origin:p90_30d',
        'app:kpi_change_review_seconds_by_origin:p50_90d',
        'team:kpi_change_review_seconds_by_origin:p50_90d',
        'org:kpi_change_review_seconds_by_origin:p50_90d',
        'app:kpi_change_review_seconds_by_origin:p75_90d',
        'team:kpi_change_review_seconds_by_origin:p75_90d',
        'org:kpi_change_review_seconds_by_origin:p75_90d',
        'app:kpi_change_review_seconds_by_origin:p90_90d',
        'team:kpi_change_review_seconds_by_origin:p90_90d',
        'org:kpi_change_review_seconds_by_origin:p90_90d',
      ],
      records: rules,
      alerts: [
        {
          name: 'AiAgentChangesUnreviewed',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s{origin="ai_agent"} > %s%s' % [
            ratio('kpi_changes_merged_unreviewed_per_changes_merged_by_origin', window),
            p.num(self.settings.threshold),
            aiChanges(window, self.settings.min_changes),
          ],
          summary: "AI agents' changes are merged without a human review.",
          description: "{{ $value | humanizePercentage }} of the AI agents' changes of %s"
                       % who + ' merged over the last %s had no review by a person other than' % window
                       + ' their author; the target is at most %s.' % p.percent(self.settings.threshold),
          meaning: "The share of the AI agents' merged changes that no person reviewed or"
                   + ' approved before the merge (a bot\'s review does not count).',
          threshold: "More than %s of the team's AI-agent changes merged in the last %s"
                     % [p.percent(self.settings.threshold), window]
                     + ' unreviewed, with at least %s of them.' % p.num(self.settings.min_changes),
          next: [
            "The team's AI-agent changes of the window merged unreviewed: who merged them, and"
            + ' whether the branch protection lets an agent merge its own change.',
            "The team's AI-agent review time (`team:kpi_change_review_seconds_by_origin:p50_%s`)"
            % window + ': a review that takes minutes on a large change is no review.',
          ],
        },
        {
          name: 'AiAgentRevertRateHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local reverted = ratio('kpi_changes_reverted_per_changes_merged_by_origin', window),
          // A team without human changes in the window compares with 0.
          expr: '%s{origin="ai_agent"}\n> ignoring (origin)\n(\n  (%s{origin="human"} or ignoring (origin) 0 * %s{origin="ai_agent"})\n  + %s\n)%s' % [
            reverted,
            reverted,
            reverted,
            p.num(self.settings.margin),
            aiChanges(window, self.settings.min_changes),
          ],
          summary: "AI agents' changes are reverted more often than the team's own.",
          description: "{{ $value | humanizePercentage }} of the AI agents' changes of %s" % who
                       + ' merged over the last %s were reverted since, more than %s above' % [
                         window,
                         p.percent(self.settings.margin),
                       ] + ' the share of its human changes.',
          meaning: "The share of the AI agents' merged changes reverted since, against the"
                   + " share of the team's human changes.",
          threshold: "The team's AI-agent revert rate over the last %s more than %s above its"
                     % [window, p.percent(self.settings.margin)]
                     + ' human revert rate, with at least %s AI-agent changes.'
                     % p.num(self.settings.min_changes),
          next: [
            'The reverted AI-agent changes of the window: what kind of task they were given,'
            + ' and what the review missed.',
            "The team's share of AI-agent changes merged unreviewed"
            + ' (`team:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_%s`).'
            % window,
          ],
        },
      ],
    },
  ]
