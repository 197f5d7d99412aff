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

  // level:metric:p50_<window> and the other configured quantiles of a histogram family.
  quantiles(family, matchers=[]):: [
    r.record(
      r.name(level.name, family, r.quantileName(q) + '_' + window),
      p.quantile(q, level.labels, self.exporter(family + '_bucket', matchers), window),
    )
    for window in r.windows(config)
    for q in config.quantiles
    for level in r.levels
  ],

  // level:metric:sum of a gauge.
  sums(family, extraLabels=[], matchers=[]):: r.perLevel(function(level)
    r.record(
      r.name(level.name, std.strReplace(family, '_total', ''), 'sum'),
      p.sum(level.labels + extraLabels, self.exporter(family, matchers)),
    )),
}
