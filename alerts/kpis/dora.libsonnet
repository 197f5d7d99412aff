// DORA performance tiers: each DORA metric of the long window as a tier of the selected
// report (`dora_report`), and overall, per app, team and organisation. The tiers are the
// 2023 and 2024 reports' benchmark: the 2025 report dropped them for team profiles, so every
// title and meaning names the report year the limits come from.
//
//   level:kpi_dora_tier:<window>{kpi="<metric>" | "overall", dora_report="<year>"}
//   0 elite, 1 high, 2 medium, 3 low.
//
// A value's tier is the number of tier limits it misses. Overall is the lowest tier (the
// highest number) among the metrics that have a value: a team is elite when every metric is.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  assert std.objectHas(config.dora, config.dora_report) :
         'dora_report %s: the tables are %s' % [
    config.dora_report,
    std.join(', ', std.objectFields(config.dora)),
  ];
  assert std.member(config.quantiles, 0.5) : 'quantiles must include 0.5 (the DORA median)';
  local report = config.dora[config.dora_report];
  local window = config.windows.long;
  local tierName(level) = r.name(level.name, 'kpi_dora_tier', window);
  local labels(kpi) = { kpi: kpi, dora_report: config.dora_report };

  // The recorded value each metric's tier reads, and whether higher is better.
  local inputs = {
    deployment_frequency: { metric: 'kpi_deployments', op: 'per_day_' + window, higher: true },
    change_lead_time: { metric: 'kpi_change_lead_time_seconds', op: 'p50_' + window },
    change_failure_rate: {
      metric: 'kpi_deployments_failed_per_deployments',
      op: 'ratio_' + window,
    },
    failed_deployment_recovery_time: {
      metric: 'kpi_failed_deployment_recovery_seconds',
      op: 'p50_' + window,
    },
  };

  local tier(level, kpi) =
    local input = r.name(level.name, inputs[kpi].metric, inputs[kpi].op);
    local missed = if std.get(inputs[kpi], 'higher', false) then '<' else '>';
    r.record(tierName(level), std.join(' + ', [
      '(%s %s bool %s)' % [input, missed, p.num(duration.seconds(report[kpi].limits[t]))]
      for t in ['elite', 'high', 'medium']
    ]), labels(kpi));

  [
    {
      name: 'dora_tier',
      title: 'DORA performance tier (%s benchmark)' % config.dora_report,
      unit: 'tier (0 elite .. 3 low)',
      grafana_unit: 'none',  // for dashboards
      direction: 'lower',
      meaning: 'The DORA %s performance tier of each metric over the last %s, and overall'
               % [config.dora_report, window] + ' (the lowest of them): 0 elite, 1 high,'
               + ' 2 medium, 3 low. A benchmark of the %s report: the 2025 report' % config.dora_report
               + ' replaced the low/medium/high/elite tiers by team profiles.',
      definition: 'rules.md#dora-performance-tiers',
      group: 'kpi-dora-tiers',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_dora_tier:30d',
        'app:kpi_dora_tier:30d',
        'app:kpi_dora_tier:30d',
        'app:kpi_dora_tier:30d',
        'app:kpi_dora_tier:30d',
        'team:kpi_dora_tier:30d',
        'team:kpi_dora_tier:30d',
        'team:kpi_dora_tier:30d',
        'team:kpi_dora_tier:30d',
        'team:kpi_dora_tier:30d',
        'org:kpi_dora_tier:30d',
        'org:kpi_dora_tier:30d',
        'org:kpi_dora_tier:30d',
        'org:kpi_dora_tier:30d',
        'org:kpi_dora_tier:30d',
      ],
      records: std.flattenArrays([
        [tier(level, kpi) for kpi in std.objectFields(inputs)] + [
          r.record(
            tierName(level),
            p.aggregate('max', level.labels, tierName(level) + '{kpi!="overall"}'),
            labels('overall'),
          ),
        ]
        for level in r.levels
      ]),
      alerts: [],
    },
  ]
