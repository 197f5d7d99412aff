// Alerting rules of every KPI threshold and of the exporter itself.
// Rendered to rendered/alerts.yaml by `kpi-exporter render`.
function(overrides={})
  local config = (import 'lib/settings.libsonnet')(overrides);
  { groups: (import 'catalogue.libsonnet')(config).alertGroups }
