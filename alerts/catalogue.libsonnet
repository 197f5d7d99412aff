// The KPI catalogue: every KPI once, with its recording rules, unit, direction, alerts and
// runbook text, built from a configuration. Rules, alerts, runbooks and dashboards are all
// generated from it. A new domain is one more file under kpis/.
local r = import 'lib/rules.libsonnet';

function(config)
  local domains = [
    { name: 'delivery', kpis: (import 'kpis/delivery.libsonnet')(config) },
    { name: 'dora', kpis: (import 'kpis/dora.libsonnet')(config) },
    { name: 'incidents', kpis: (import 'kpis/incidents.libsonnet')(config) },
    { name: 'reliability', kpis: (import 'kpis/reliability.libsonnet')(config) },
    { name: 'flow', kpis: (import 'kpis/flow.libsonnet')(config) },
    { name: 'origin', kpis: (import 'kpis/origin.libsonnet')(config) },
    { name: 'work', kpis: (import 'kpis/work.libsonnet')(config) },
    { name: 'quality', kpis: (import 'kpis/quality.libsonnet')(config) },
    { name: 'security', kpis: (import 'kpis/security.libsonnet')(config) },
    { name: 'cost', kpis: (import 'kpis/cost.libsonnet')(config) },
    { name: 'business', kpis: (import 'kpis/business.libsonnet')(config) },
    { name: 'exporter', kpis: (import 'kpis/exporter.libsonnet')(config) },
  ];
  local alertsOf(domain) = std.flattenArrays([kpi.alerts for kpi in domain.kpis]);
  {
    domains: domains,
    kpis: std.flattenArrays([domain.kpis for domain in domains]),

    // One recording group per KPI and window (each well under 20 rules): kpi-rework-rate-7d,
    // ... and kpi-rework-rate for its rules without a window. A rule with a hidden `group`
    // field goes to that group instead. Groups follow the order of their first rule.
    local groupOf(kpi, rule) = std.get(
      rule,
      'group',
      kpi.group + (if std.objectHasAll(rule, 'window') then '-' + rule.window else ''),
    ),
    local inOrder(names) = std.foldl(
      function(seen, name) if std.member(seen, name) then seen else seen + [name], names, []
    ),
    recordingGroups: [
      r.recordingGroup(config, name, [rule for rule in kpi.records if groupOf(kpi, rule) == name])
      for kpi in self.kpis
      if kpi.records != []
      for name in inOrder([groupOf(kpi, rule) for rule in kpi.records])
    ],

    // One alerting group per domain.
    alertGroups: [
      r.alertGroup(config, 'kpi-%s-alerts' % domain.name, alertsOf(domain))
      for domain in domains
      if std.length([a for a in alertsOf(domain) if a.settings.enabled]) > 0
    ],

    // Every enabled alert with the KPI it watches (docs.jsonnet).
    alerts: [
      alert { kpi: kpi.title, definition: kpi.definition }
      for kpi in self.kpis
      for alert in kpi.alerts
      if alert.settings.enabled
    ],
  }
