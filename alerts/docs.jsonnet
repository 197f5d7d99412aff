// What the runbooks (docs/runbooks/) and the rule reference (docs/rules.md) are written from:
// the runbook text of every enabled alert, the KPIs and the effective configuration. Read by
// `kpi-exporter render`, not deployed; the rules themselves come from the rendered files.
function(overrides={})
  local config = (import 'lib/settings.libsonnet')(overrides);
  local catalogue = (import 'catalogue.libsonnet')(config);
  local slo = (import 'lib/slo.libsonnet')(config);
  local sloAlerts = [policy for policy in std.objectValues(config.slo_alerts) if policy.enabled];
  {
    config: config,
    alerts: [
      {
        name: alert.name,
        kpi: alert.kpi,
        definition: alert.definition,
        meaning: alert.meaning,
        threshold: alert.threshold,
        next: alert.next,
      }
      for alert in catalogue.alerts
    ] + (if config.slos != [] && sloAlerts != [] then [slo.runbook] else [])
    + (if config.external_slo_alert.enabled then [slo.externalRunbook] else []),
    kpis: [
      {
        name: kpi.name,
        title: kpi.title,
        unit: kpi.unit,
        grafana_unit: kpi.grafana_unit,
        direction: kpi.direction,
        meaning: kpi.meaning,
        definition: kpi.definition,
        records: [rule.record for rule in kpi.records],
        recorded: kpi.recorded,
      }
      for kpi in catalogue.kpis
    ],
  }
