// The configuration with a thresholds file merged over it (a JSON merge patch: objects merge
// key by key, lists and values replace). `kpi-exporter render --thresholds FILE` passes the
// file as `overrides`.
function(overrides={}) std.mergePatch(import '../config.libsonnet', overrides)
