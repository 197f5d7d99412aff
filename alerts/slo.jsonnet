// SLO recording rules and multi-window, multi-burn-rate alerts of the configured SLOs.
// Rendered to rendered/slo.yaml by `kpi-exporter render`.
function(overrides={})
  local config = (import 'lib/settings.libsonnet')(overrides);
  { groups: (import 'lib/slo.libsonnet')(config).groups }
