// Constructors of Prometheus rules and groups, and the levels every KPI is recorded at.
{
  // Recording rule names are level:metric:operation. Each level keeps these labels. The
  // exporter publishes quantiles and deploy days at every level, told apart by the labels a
  // series has (a label it lacks reads as ""): `matchers` select the level's own series.
  levels: [
    { name: 'app', labels: ['app', 'team'], matchers: ['app!=""'] },
    { name: 'team', labels: ['team'], matchers: ['app=""', 'team!=""'] },
    { name: 'org', labels: [], matchers: ['team=""'] },
  ],

  name(level, metric, operation):: level + ':' + metric + ':' + operation,

  // The recording windows of the configuration: ['7d', '30d', '90d']. The exporter publishes
  // each of them (`window` label); the alerts' short and long windows must be among them.
  windows(config)::
    assert std.member(config.windows.all, config.windows.short) :
           'windows.short %s is not in windows.all' % config.windows.short;
    assert std.member(config.windows.all, config.windows.long) :
           'windows.long %s is not in windows.all' % config.windows.long;
    config.windows.all,

  // 'p50' for 0.5.
  quantileName(q):: 'p' + std.toString(std.round(q * 100)),

  record(name, expr, labels={}):: { record: name, expr: expr } + (
    if labels == {} then {} else { labels: labels }
  ),

  // One rule per level, fn(level) -> rule; or per window and level, fn(level, window). A
  // rule of a window carries it (hidden): the catalogue groups a KPI's rules by window.
  perLevel(fn):: [fn(level) for level in self.levels],
  perLevelWindow(config, fn):: [
    self.ofWindow(window, fn(level, window))
    for window in self.windows(config)
    for level in self.levels
  ],
  ofWindow(window, rule):: rule { window:: window },

  // A recording group of the KPI rules, evaluated every `rule_interval`.
  recordingGroup(config, name, rules):: {
    name: name,
    rules: rules,
  } + (if config.rule_interval == null then {} else { interval: config.rule_interval }),

  // The settings of an alert in the configuration, with a clear error for a missing one.
  settings(config, name)::
    assert std.objectHas(config.alerts, name) : 'config.alerts has no settings for %s' % name;
    config.alerts[name],

  // The Prometheus alerting rule of an alert of the catalogue (see kpis/*.libsonnet).
  alertRule(config, alert):: {
    alert: alert.name,
    expr: alert.expr,
    'for': alert.settings['for'],
    labels: { severity: alert.settings.severity } + std.get(alert, 'labels', {}),
    annotations: {
      summary: alert.summary,
      description: alert.description,
      runbook_url: config.runbook_url % alert.name,
      action: alert.settings.action,
    },
  },

  // The alerting group of the enabled alerts of a list.
  alertGroup(config, name, alerts):: {
    name: name,
    rules: [$.alertRule(config, alert) for alert in alerts if alert.settings.enabled],
  },

  // The window an alert reads ('short' or 'long' in its settings) as a duration: '7d'.
  window(config, settings):: config.windows[settings.window],
}
