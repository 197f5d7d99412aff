// Recording rules of every KPI, at the app, team and organisation levels.
// Rendered to rendered/rules.yaml by `kpi-exporter render`.
function(overrides={})
  local config = (import 'lib/settings.libsonnet')(overrides);
  { groups: (import 'catalogue.libsonnet')(config).recordingGroups }
