// Builders of the recording rules every KPI shares: counts, rates per day, ratios and
// quantiles, at every level (app, team, org) and window of the configuration.
//
// The exporter computes every window itself, by event time, and publishes it as a gauge with
// a `window` label (kpi_window_<name>, see exporter/kpi_exporter/kpis/families.py): these
// rules read the latest sample of those gauges and only add them up or divide them. None of
// them reads a range of a raw series.
local p = import 'promql.libsonnet';
local r = import 'rules.libsonnet';

function(config) {
  // An exporter metric with the configured selectors: exporter(name, extra matchers).
  exporter(metric, matchers=[]):: p.select(metric, [config.selectors.exporter] + matchers),

  // The exporter's window gauge of a KPI metric: kpi_deployments -> kpi_window_deployments.
  windowFamily(metric)::
    assert std.startsWith(metric, 'kpi_') : 'not a kpi_ metric: ' + metric;
    'kpi_window_' + std.substr(metric, 4, std.length(metric) - 4),

  // A window gauge of the exporter in one window: kpi_window_deployments{..., window="7d"}.
  inWindow(metric, window, matchers=[])::
    self.exporter(self.windowFamily(metric), ['window="' + window + '"'] + matchers),

  // level:metric:increase_<window>: the events of the window. The exporter publishes counts
  // per app (0 included); teams and the organisation add up the app level's record of the
  // same evaluation (the rules of a group run in order). `labels` are kept besides the
  // level's own (component).
  counts(metric, labels=[]):: r.perLevelWindow(config, function(level, window)
    r.record(
      r.name(level.name, metric, 'increase_' + window),
      if level.name == 'app'
      then p.sum(level.labels + labels, self.inWindow(metric, window))
      else p.sum(level.labels + labels, r.name('app', metric, 'increase_' + window)),
    )),

  // level:<numerator>_per_<denominator>:ratio_<window> from the counts of both, the
  // denominator without its kpi_ prefix: kpi_deployments_failed_per_deployments.
  ratios(numerator, denominator):: r.perLevelWindow(config, function(level, window)
    r.record(
      r.name(
        level.name,
        numerator + '_per_' + std.substr(denominator, 4, std.length(denominator) - 4),
        'ratio_' + window,
      ),
      p.ratio(
        r.name(level.name, numerator, 'increase_' + window),
        r.name(level.name, denominator, 'increase_' + window),
      ),
    )),

  // level:metric:p50_<window> and the other configured quantiles of a duration or size.
  // The exporter publishes each exact (label `quantile`) at the levels it sees whole; a
  // sharded installation publishes, at the levels no shard sees whole (the organisation; a
  // team split across shards), the window's observations per bucket instead, which every
  // shard's are added up from: a quantile within its bucket, as exact as the buckets. The
  // app level is always exact.
  // `labels` are kept at every level besides the level's own (category): the exporter
  // publishes those quantiles per value at the team and organisation level too.
  quantiles(metric, labels=[]):: std.flattenArrays([
    [
      local exact = p.aggregate('max', level.labels + labels, self.inWindow(
        metric, window, level.matchers + ['percentile="' + p.num(q * 100) + '"']
      ));
      r.ofWindow(window, r.record(
        r.name(level.name, metric, r.quantileName(q) + '_' + window),
        if level.name == 'app' then exact
        else exact + '\nor\n' + p.quantileOf(q, level.labels + labels, self.exporter(
          self.windowFamily(metric) + '_observations', ['window="' + window + '"'] + level.matchers
        )),
      ))
      for q in config.quantiles
      for level in r.levels
    ]
    for window in r.windows(config)
  ]),

  // The condition of a rate alert on deployments: the app deployed at least `min` times to
  // production in the window (`min_deployments` of the alert's settings).
  minDeployments(window, min)::
    '\nand on (app, team)\n' + r.name('app', 'kpi_deployments', 'increase_' + window)
    + ' >= ' + p.num(min),

  // level:metric:sum of a gauge.
  sums(family, extraLabels=[], matchers=[]):: r.perLevel(function(level)
    r.record(
      r.name(level.name, std.strReplace(family, '_total', ''), 'sum'),
      p.sum(level.labels + extraLabels, self.exporter(family, matchers)),
    )),
}
