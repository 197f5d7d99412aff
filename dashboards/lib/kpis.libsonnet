// The KPI catalogue as the dashboards read it: title, unit, direction, meaning, thresholds
// and runbooks of every KPI come from alerts/ (config.libsonnet and catalogue.libsonnet), the
// same definitions the recording rules, alerts and runbooks are generated from.
local duration = import '../../alerts/lib/duration.libsonnet';
local g = import 'grafana.libsonnet';

function(overrides={})
  local config = (import '../../alerts/lib/settings.libsonnet')(overrides);
  local catalogue = (import '../../alerts/catalogue.libsonnet')(config);
  local byName = { [kpi.name]: kpi for kpi in catalogue.kpis };
  local long = config.windows.long;
  local short = config.windows.short;
  local good = 'green';
  local bad = 'red';
  {
    config: config,
    long: long,
    short: short,

    kpi(name):: std.get(byName, name, error 'unknown KPI: ' + name),

    // Enabled alerts of a KPI.
    alerts(name):: [a for a in self.kpi(name).alerts if a.settings.enabled],

    // Links to the runbooks of the KPI's enabled alerts (plus `extra` alert names).
    links(name, extra=[]):: [
      g.link('Runbook: ' + alert, config.runbook_url % alert)
      for alert in [a.name for a in self.alerts(name)] + extra
    ],

    // Colours from the direction and the target of the KPI: for a DORA metric the tier
    // limits of the selected report (elite green .. low red), otherwise the threshold of
    // `alert` (the KPI's first alert with a threshold when not named); a KPI without a
    // target is one neutral colour.
    thresholds(name, alert=null)::
      local kpi = self.kpi(name);
      local withThreshold = [
        a for a in kpi.alerts
        if a.settings.enabled && std.objectHas(a.settings, 'threshold')
           && (alert == null || a.name == alert)
      ];
      local higher = kpi.direction == 'higher';
      if std.objectHas(kpi, 'dora') then
        local limits = config.dora[config.dora_report][kpi.dora].limits;
        local values = std.sort([duration.seconds(limits[t]) for t in ['elite', 'high', 'medium']]);
        local colours = ['dark-green', 'green', 'orange', 'red'];
        local ordered = if higher then std.reverse(colours) else colours;
        g.thresholds([{ color: ordered[0], value: null }] + [
          { color: ordered[i + 1], value: values[i] }
          for i in std.range(0, 2)
        ])
      else if withThreshold == [] then
        g.thresholds([{ color: 'blue', value: null }])
      else
        // Alerts fire above their threshold, Grafana colours from it: a count that must
        // stay at zero turns red from one.
        local threshold = duration.seconds(withThreshold[0].settings.threshold);
        local value = if threshold == 0 && !higher then 1 else threshold;
        g.thresholds([
          { color: if higher then bad else good, value: null },
          { color: if higher then good else bad, value: value },
        ]),

    // The DORA tiers as Grafana value mappings and colours, each named with the report whose
    // benchmark it is (the 2025 report replaced the tiers by team profiles).
    tierMappings:: [{
      type: 'value',
      options: {
        '0': { text: 'Elite (%s)' % config.dora_report, color: 'dark-green', index: 0 },
        '1': { text: 'High (%s)' % config.dora_report, color: 'green', index: 1 },
        '2': { text: 'Medium (%s)' % config.dora_report, color: 'orange', index: 2 },
        '3': { text: 'Low (%s)' % config.dora_report, color: 'red', index: 3 },
      },
    }],
    tierThresholds:: g.thresholds([
      { color: 'dark-green', value: null },
      { color: 'green', value: 1 },
      { color: 'orange', value: 2 },
      { color: 'red', value: 3 },
    ]),

    // The smallest step of KPI panels over time ("Min interval"): their series are windows
    // of days recorded every few minutes, so an hourly point shows every change that matters
    // and halves what a 30-day panel reads back against Grafana's 30m step. Panels of rates
    // over raw series keep Grafana's step, which $__rate_interval follows.
    minInterval:: '1h',

    // A panel of a KPI: its title (unless given), unit, meaning, colours and runbooks.
    // `w` and `h` size it; stats show the trend over the time range.
    panel(kind, name, targets, title=null, alert=null, w=null, h=null, stack=false)::
      local rates = std.length(std.findSubstr('$__rate_interval', std.manifestJson(targets))) > 0;
      local overTime = std.member(['stat', 'timeseries', 'heatmap'], kind) && !rates;
      { [if overTime then 'interval']: $.minInterval } +
      local kpi = self.kpi(name);
      local t = if title == null then kpi.title else title;
      local u = kpi.grafana_unit;
      local d = kpi.meaning;
      local th = $.thresholds(name, alert);
      local l = $.links(name);
      local size(default) = { w: if w == null then default[0] else w, h: if h == null then default[1] else h };
      if kind == 'stat' then
        local s = size([6, 5]);
        g.stat(t, targets, u, s.w, s.h, d, th, l, direction=kpi.direction, trend=true)
      else if kind == 'timeseries' then
        local s = size([12, 8]);
        g.timeseries(t, targets, u, s.w, s.h, d, th, l, stack=stack)
      else if kind == 'bargauge' then
        local s = size([12, 8]);
        g.bargauge(t, targets, u, s.w, s.h, d, th, l)
      else if kind == 'table' then
        local s = size([12, 8]);
        g.table(t, targets, u, s.w, s.h, d, th, l)
      else if kind == 'heatmap' then
        local s = size([24, 9]);
        g.heatmap(t, targets, u, s.w, s.h, d, th, l)
      else error 'unknown panel kind: ' + kind,
  }
