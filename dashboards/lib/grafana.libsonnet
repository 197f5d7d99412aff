// A small helper library for Grafana dashboards (the classic dashboard JSON model that
// Grafana's own types, npm @grafana/schema `raw/dashboard`, describe). No grafonnet: each
// helper returns plain JSON, and `dashboard` lays the panels out and numbers them.
{
  // Every query goes through the `datasource` variable: no hard-coded datasource uid.
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  // The variables every dashboard has: the Prometheus datasource, then app, team and
  // environment from the exporter's own series. `single` lists the variables that take one
  // value (the team dashboard is one team's).
  variables(single=[]):: [
    {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      refresh: 1,
      hide: 0,
      includeAll: false,
      multi: false,
      options: [],
    },
  ] + [
    local isSingle = std.member(single, variable.name);
    {
      name: variable.name,
      label: variable.label,
      type: 'query',
      datasource: $.datasource,
      query: { query: variable.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
      refresh: 2,
      sort: 1,
      hide: 0,
      includeAll: !isSingle,
      multi: !isSingle,
      allValue: '.*',
      options: [],
    }
    for variable in [
      { name: 'team', label: 'Team', query: 'label_values(kpi_deployments_total, team)' },
      {
        name: 'app',
        label: 'App',
        query: 'label_values(kpi_deployments_total{team=~"$team"}, app)',
      },
      {
        name: 'environment',
        label: 'Environment',
        query: 'label_values(kpi_deployments_total{team=~"$team", app=~"$app"}, environment)',
      },
    ]
  ],

  // Matchers of the variables, for series with these labels.
  matchers(labels=['team', 'app']):: std.join(', ', ['%s=~"$%s"' % [l, l] for l in labels]),

  // --- Reading the cheapest level -------------------------------------------------------
  // The recording rules keep each KPI at three levels: app:<m> (labels app and team),
  // team:<m> (team, no app) and org:<m> (neither), where <m> is metric:operation. Summing
  // 500 app series over 30 days for a panel costs seconds; the org series answers the same
  // question with one. So panels read the level that answers the selection:
  //   All teams and All apps   -> org:<m>
  //   teams picked, All apps   -> team:<m> of those teams
  //   apps picked              -> app:<m> of those apps
  // How: a label a series does not have reads as "", and of the values a variable takes
  // only its All value ".*" matches "". So on org series (no team, no app label)
  // `team=~"$team", app=~"$app"` holds only when both are All, and on team series
  // `app=~"$app"` holds only when apps are All. No series has an `all` label: `all=~"$team"`
  // holds when All teams are selected, `all!~"$team"` when some are picked. At most one of
  // the selectors below matches series; one that matches none reads nothing, so the `or` of
  // them reads one level. tests/test_dashboard_queries.py checks each against the app series.

  // The matchers that hold only for some selections (see above).
  when:: {
    allTeams: 'all=~"$team"',
    teamsPicked: 'all!~"$team"',
    appsPicked: 'all!~"$app"',
  },

  // The variables' matchers, after `extra` ones ('severity="high"') when given.
  selection(extra=''):: (if extra == '' then '' else extra + ', ') + $.matchers(),

  // The selector of `metric` ('kpi_deployments:per_day_7d') at `level` ('app', 'team',
  // 'org') for the selection, with the `when` matcher (one of the above) if given.
  at(level, metric, extra='', when='')::
    '%s:%s{%s}' % [level, metric, $.selection(extra) + (if when == '' then '' else ', ' + when)],

  // Selectors of `metric` at each level, each matching series only when its level answers
  // the selection.
  levels(metric, extra=''):: {
    org: $.at('org', metric, extra),
    team: $.at('team', metric, extra, $.when.teamsPicked),
    app: $.at('app', metric, extra, $.when.appsPicked),
  },

  // One value (per `by` label) over the selection: `agg` is 'sum' for counts and sums, 'max'
  // for the slowest or highest (medians cannot be added up: All reads the organisation's own
  // median, picked teams or apps show the slowest of them).
  overall(agg, metric, by=[], extra='')::
    local l = $.levels(metric, extra);
    local group = if by == [] then '' else ' by (%s) ' % std.join(', ', by);
    std.join(' or ', ['%s%s(%s)' % [agg, group, l[level]] for level in ['org', 'team', 'app']]),

  // A ratio over the selection from the counts of both: failed / all deployments.
  ratio(numerator, denominator, extra='')::
    '(%s) / (%s)' % [$.overall('sum', numerator, extra=extra), $.overall('sum', denominator, extra=extra)],

  // One series per team when All teams are selected (team:<m>), else one per app of the
  // picked teams or apps (app:<m>). Legend: '{{team}} {{app}}'.
  breakdown(metric, extra='')::
    std.join(' or ', [
      $.at('team', metric, extra, $.when.allTeams),
      $.at('app', metric, extra, $.when.teamsPicked),
      $.at('app', metric, extra, $.when.appsPicked),
    ]),

  // The selection's own series, one level: the organisation's (org:<m>) when All teams are
  // selected, each picked team's (team:<m>), or each picked app's (app:<m>). For quantiles
  // and splits (by origin), whose exact values exist at every level: a line per team and
  // quantile would draw 150 lines at 50 teams, and cost the dashboard a second of
  // Prometheus' time per panel (benchmarks/dashboards.py).
  // Legend: '{{team}} {{app}} ...' (empty under All).
  outline(metric, extra='')::
    local l = $.levels(metric, extra);
    std.join(' or ', [l.org, l.team, l.app]),

  // One series per team of the selection: team:<m> when All apps are selected, else the
  // picked apps added up (`agg` 'sum') or the slowest of them ('max') per team.
  perTeam(metric, agg='sum', extra='')::
    '%s or %s by (team) (%s)' % [$.at('team', metric, extra), agg, $.levels(metric, extra).app],

  // One ratio per team of the selection: the team's recorded ratio team:<ratio> when All
  // apps are selected (one series per team), else the picked apps' numerator and
  // denominator added up per team.
  perTeamRatio(ratio, numerator, denominator, extra='')::
    '%s or sum by (team) (%s) / sum by (team) (%s)'
    % [$.at('team', ratio, extra), $.levels(numerator, extra).app, $.levels(denominator, extra).app],

  // A PromQL query. `instant` for tables and bar gauges of current values.
  target(expr, legend='', instant=false):: {
    datasource: $.datasource,
    expr: expr,
    legendFormat: legend,
    instant: instant,
    range: !instant,
  },

  // A link from a panel to a runbook (docs/runbooks/<Alert>.md).
  link(title, url):: {
    title: title,
    url: url,
    type: 'link',
    icon: 'doc',
    tooltip: 'What to do when the alert fires',
    asDropdown: false,
    includeVars: false,
    keepTime: false,
    tags: [],
    targetBlank: true,
  },

  // Thresholds as Grafana writes them: the base step has value null.
  thresholds(steps):: { mode: 'absolute', steps: steps },

  // Any panel. `unit` is mandatory: every number says what it counts.
  panel(type, title, targets, unit, w, h, description='', thresholds=null, links=[],
        options={}, custom={}, mappings=[], min=null, max=null, transformations=[]):: {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    targets: [
      targets[i] { refId: std.char(std.codepoint('A') + i) }
      for i in std.range(0, std.length(targets) - 1)
    ],
    fieldConfig: {
      defaults: {
        unit: unit,
        [if thresholds != null then 'thresholds']: thresholds,
        color: { mode: if thresholds != null then 'thresholds' else 'palette-classic' },
        mappings: mappings,
        [if min != null then 'min']: min,
        [if max != null then 'max']: max,
        custom: custom,
      },
      overrides: [],
    },
    links: links,
    options: options,
    transformations: transformations,
    gridPos: { w: w, h: h, x: 0, y: 0 },
  },

  stat(title, targets, unit, w=6, h=5, description='', thresholds=null, links=[],
       direction='lower', mappings=[], trend=false)::
    self.panel('stat', title, targets, unit, w, h, description, thresholds, links, options={
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'area',
      textMode: 'auto',
      justifyMode: 'auto',
      orientation: 'auto',
      // The change between the first and the last value of the time range: with a 30d
      // range and a 30d window, this period against the previous one.
      showPercentChange: trend,
      percentChangeColorMode: if direction == 'higher' then 'standard' else 'inverted',
    }, mappings=mappings),

  timeseries(title, targets, unit, w=12, h=8, description='', thresholds=null, links=[],
             stack=false, min=null)::
    self.panel('timeseries', title, targets, unit, w, h, description, thresholds, links, options={
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    }, custom={
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: if stack then 60 else 10,
      showPoints: 'never',
      spanNulls: true,
      stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
      thresholdsStyle: { mode: if thresholds != null then 'line' else 'off' },
    }, min=min),

  bargauge(title, targets, unit, w=12, h=8, description='', thresholds=null, links=[],
           min=null, max=null)::
    self.panel('bargauge', title, targets, unit, w, h, description, thresholds, links, options={
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      orientation: 'horizontal',
      displayMode: 'gradient',
      showUnfilled: true,
    }, min=min, max=max),

  table(title, targets, unit, w=12, h=8, description='', thresholds=null, links=[],
        mappings=[])::
    self.panel('table', title, targets, unit, w, h, description, thresholds, links, options={
      showHeader: true,
      cellHeight: 'sm',
    }, custom={
      cellOptions: { type: if thresholds != null then 'color-background' else 'auto' },
    }, mappings=mappings, transformations=[
      { id: 'merge', options: {} },
      { id: 'organize', options: { excludeByName: { Time: true } } },
    ]),

  // Each series a row of cells coloured by value (calculate: false): a value over time
  // per component, app or team.
  heatmap(title, targets, unit, w=24, h=9, description='', thresholds=null, links=[])::
    self.panel('heatmap', title, targets, unit, w, h, description, thresholds, links, options={
      calculate: false,
      cellGap: 1,
      color: { mode: 'scheme', scheme: 'RdYlGn', steps: 64, exponent: 0.5, reverse: false },
      yAxis: { axisPlacement: 'left' },
      legend: { show: true },
      tooltip: { mode: 'single', yHistogram: false },
    }),

  // A row: a title across the dashboard; the panels after it belong to it.
  row(title):: { type: 'row', title: title, collapsed: false, panels: [], gridPos: { w: 24, h: 1 } },

  // A collapsed row: its panels open under it on demand (details below a dashboard's headline
  // numbers). Grafana keeps them inside the row; `layout` places them after its line.
  collapsedRow(title, panels):: $.row(title) { collapsed: true, panels: panels },

  // Lay the panels out left to right, wrapping at 24 columns; rows start a new line.
  // Ids count from 1 in the order of the list; the panels of a collapsed row are laid out
  // from the line under it, with ids after every top-level one (100 per row).
  layout(panels)::
    local place(acc, panel) =
      local w = panel.gridPos.w;
      local h = panel.gridPos.h;
      local wrap = panel.type == 'row' || acc.x + w > 24;
      local x = if wrap then 0 else acc.x;
      local y = if wrap then acc.y + acc.rowHeight else acc.y;
      local id = std.length(acc.panels) + 1;
      local inside = if panel.type == 'row' && panel.collapsed then [
        p { id: 100 * id + p.id, gridPos+: { y: p.gridPos.y + y + 1 } }
        for p in $.layout(panel.panels)
      ] else [];
      {
        panels: acc.panels + [panel {
          id: id,
          gridPos: { x: x, y: y, w: w, h: h },
          [if panel.type == 'row' then 'panels']: inside,
        }],
        x: if panel.type == 'row' then 0 else x + w,
        y: if panel.type == 'row' then y + h else y,
        rowHeight: if panel.type == 'row' then 0 else if wrap then h else std.max(acc.rowHeight, h),
      };
    std.foldl(place, panels, { panels: [], x: 0, y: 0, rowHeight: 0 }).panels,

  // A dashboard. `version` is set by the renderer from a hash of the content.
  dashboard(uid, title, description, tags, panels, time='now-30d', single=[]):: {
    uid: uid,
    title: title,
    description: description,
    tags: ['kpi-exporter'] + tags,
    timezone: 'utc',
    editable: false,
    graphTooltip: 1,
    refresh: '5m',
    schemaVersion: 39,
    time: { from: time, to: 'now' },
    templating: { list: $.variables(single) },
    annotations: { list: [] },
    links: [
      {
        title: 'KPI dashboards',
        type: 'dashboards',
        tags: ['kpi-exporter'],
        asDropdown: true,
        icon: 'external link',
        includeVars: true,
        keepTime: true,
        targetBlank: false,
        tooltip: '',
      },
    ],
    panels: $.layout(panels),
  },
}
