// Builders of the recording rules every KPI shares: counts, rates per day, ratios and
// quantiles, at every level (app, team, org) and window of the configuration.
local p = import 'promql.libsonnet';
local r = import 'rules.libsonnet';

function(config) {
  // An exporter metric with the configured selectors: exporter(name, extra matchers).
  exporter(metric, matchers=[]):: p.select(metric, [config.selectors.exporter] + matchers),

  // level:metric:increase_<window>: events counted in the window.
  increases(metric, family, matchers=[]):: r.perLevelWindow(config, function(level, window)
    r.record(
      r.name(level.name, metric, 'increase_' + window),
      p.increase(level.labels, self.exporter(family, matchers), window),
    )),

  // level:<numerator>_per_<denominator>:ratio_<window> from the increases of both, the
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

  // level:metric:p50_<window> and the other configured quantiles of a histogram family. The
  // raw buckets are read once per window, into app:<family>_bucket:increase_<window> (the
  // first rule of the window: later rules of a group see its result of the same evaluation);
  // every level's quantiles add that series up, instead of reading the raw buckets again (a
  // 30-day window of every app is the costliest thing these rules read).
  quantiles(family, matchers=[]):: std.flattenArrays([
    local buckets = r.name('app', family + '_bucket', 'increase_' + window);
    [
      r.record(
        buckets,
        p.increase(r.levels[0].labels + ['le'], self.exporter(family + '_bucket', matchers), window),
      ),
    ] + [
      r.record(
        r.name(level.name, family, r.quantileName(q) + '_' + window),
        p.quantileOf(q, level.labels, buckets),
      )
      for q in config.quantiles
      for level in r.levels
    ]
    for window in r.windows(config)
  ]),

  // level:metric:sum of a gauge.
  sums(family, extraLabels=[], matchers=[]):: r.perLevel(function(level)
    r.record(
      r.name(level.name, std.strReplace(family, '_total', ''), 'sum'),
      p.sum(level.labels + extraLabels, self.exporter(family, matchers)),
    )),
}
