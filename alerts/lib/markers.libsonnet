// Threshold markers of the Helm chart's rule file. `kpi-exporter render` renders it with each
// alert threshold replaced by '@@AlertName@@', which the chart replaces with the threshold of
// its values (see exporter/kpi_exporter/render/helm.py). Formatting a marker yields a marker naming
// the format: '@@AlertName|seconds@@', then '@@AlertName|text@@' for its duration text.
{
  is(x):: std.isString(x) && std.startsWith(x, '@@'),
  // The marker of `x` with `format` instead of its own: marked('@@A|seconds@@', 'text').
  marked(x, format)::
    local name = std.splitLimit(std.substr(x, 2, std.length(x) - 4), '|', 1)[0];
    '@@' + name + '|' + format + '@@',
}
