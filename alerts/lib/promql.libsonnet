// Small PromQL builders, so every rule reads the same way.
//
// They concatenate strings rather than use `%` formatting: the C++ Jsonnet implements
// std.format in Jsonnet itself, and at a few hundred rules that costs seconds.

// Drop the trailing zeros of a decimal fraction: '150' -> '15'.
local trimZeros(digits) =
  if digits != '' && digits[std.length(digits) - 1] == '0'
  then trimZeros(std.substr(digits, 0, std.length(digits) - 1))
  else digits;

local markers = import 'markers.libsonnet';

{
  isMarker(x):: markers.is(x),

  // A number as a person writes it: 0.15, 86400, 0.142857143 (nine decimals at most).
  num(x)::
    if markers.is(x) then x
    else if x == std.floor(x) then std.toString(x)
    else
      local scaled = std.toString(std.round(std.abs(x) * 1e9));
      local padded = std.repeat('0', std.max(0, 10 - std.length(scaled))) + scaled;
      local cut = std.length(padded) - 9;
      local fraction = trimZeros(std.substr(padded, cut, 9));
      (if x < 0 then '-' else '') + std.substr(padded, 0, cut)
      + (if fraction == '' then '' else '.' + fraction),

  // A ratio as a percentage for text: 0.15 -> '15%', 0.999 -> '99.9%'.
  percent(x):: if markers.is(x) then markers.marked(x, 'percent') else self.num(x * 100) + '%',
  // A ratio in hundredths, without the sign: 0.15 -> '15'.
  hundredths(x):: if markers.is(x) then markers.marked(x, 'hundredths') else self.num(x * 100),

  // op by (labels) (expr), or op(expr) at the organisation level (no label kept).
  aggregate(op, labels, expr)::
    op + (if labels == [] then '' else ' by (' + std.join(', ', labels) + ') ')
    + '(' + expr + ')',

  sum(labels, expr):: self.aggregate('sum', labels, expr),

  // metric{a="b", c="d"}: the non-empty matchers of the list.
  select(metric, matchers)::
    metric + '{' + std.join(', ', [m for m in matchers if m != '']) + '}',

  // A quantile estimated from the cumulative counts per bucket (`le`) of a set of series,
  // added up by `labels` (the window observations of every shard). `>= 0` drops the NaN
  // that histogram_quantile returns when nothing was observed in the window, so "no data"
  // stays absent instead of looking like a value.
  quantileOf(q, labels, buckets)::
    'histogram_quantile(' + self.num(q) + ', ' + self.sum(labels + ['le'], buckets) + ') >= 0',

  // What raw counter (or histogram bucket) series counted over the window, added up by
  // `labels` (which must keep job and instance), as an exact difference of the latest samples
  // and those a window ago: one sample a series at each end, where increase() over days reads
  // every sample of the window (and takes a correction for a reset). A series born inside
  // the window has no sample a window ago, so the sum of the latest ones counts it whole; a
  // label set born inside the window counts whole if its exporter (`scraped`: a series of
  // every scrape of it) was scraped a window ago already; otherwise Prometheus cannot tell
  // (the exporter may hold older events), and it has no value yet.
  difference(labels, series, window, scraped)::
    local now = self.sum(labels, series);
    '(' + now + ' - ' + self.sum(labels, series + ' offset ' + window) + ')\n'
    + 'or (' + now + ' and on (job, instance) ' + scraped + ' offset ' + window + ')',

  // numerator / denominator, where a numerator absent for a label set counts as 0 (the
  // exporter leaves counters at 0 out) and a denominator of 0 gives no value.
  ratio(numerator, denominator)::
    '(' + numerator + ' or 0 * ' + denominator + ') / (' + denominator + ' > 0)',
}
