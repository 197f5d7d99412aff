// Security: open findings by severity, those past their SLA, the oldest open finding and
// the time to fix.
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local L = k.long;
  local m = g.matchers();
  g.dashboard(
    uid='kpi-security',
    title='KPI / Security',
    description='Open security findings by severity, SLA breaches (critical 7 days, high 30'
                + ' days by default), age of the oldest open finding and time to fix.',
    tags=['domain', 'security'],
    panels=[
      k.panel('stat', 'vulnerabilities_open',
              [g.target('sum(app:kpi_vulnerabilities_sla_breached:sum{severity="critical", %s}) or vector(0)' % m, 'critical')],
              title='Critical findings past SLA', alert='CriticalVulnerabilityPastSla', w=6),
      k.panel('stat', 'vulnerabilities_open',
              [g.target('sum(app:kpi_vulnerabilities_sla_breached:sum{severity="high", %s}) or vector(0)' % m, 'high')],
              title='High findings past SLA', alert='HighVulnerabilityPastSla', w=6),
      k.panel('stat', 'vulnerabilities_open',
              [g.target('max(app:kpi_vulnerabilities_open_age_seconds:max{%s})' % m, 'oldest')],
              title='Oldest open finding', w=6)
      + { fieldConfig+: { defaults+: { unit: 's', thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('stat', 'vulnerability_fix_time',
              [g.target('max(app:kpi_vulnerability_fix_seconds:p50_%s{%s})' % [L, m], 'median')],
              title='Time to fix, median (%s, slowest app)' % L, w=6),
      k.panel('timeseries', 'vulnerabilities_open',
              [g.target('sum by (severity) (app:kpi_vulnerabilities_open:sum{%s})' % m, '{{severity}}')],
              title='Open findings by severity', w=12, stack=true),
      k.panel('bargauge', 'vulnerabilities_open',
              [g.target('sum by (app) (app:kpi_vulnerabilities_sla_breached:sum{%s})' % m, '{{app}}', instant=true)],
              title='Findings past SLA by app', w=12),
      k.panel('timeseries', 'vulnerabilities_closed', [
        g.target('sum(app:kpi_vulnerabilities_fixed:increase_%s{%s})' % [L, m], 'fixed'),
        g.target('sum(app:kpi_vulnerabilities_dismissed:increase_%s{%s})' % [L, m], 'dismissed'),
      ], title='Findings fixed and dismissed (%s)' % L, w=12),
      k.panel('timeseries', 'vulnerability_fix_time', [
        g.target('app:kpi_vulnerability_fix_seconds:p50_%s{%s}' % [L, m], '{{app}} median'),
        g.target('app:kpi_vulnerability_fix_seconds:p90_%s{%s}' % [L, m], '{{app}} p90'),
      ], title='Time to fix (%s)' % L, w=12),
    ],
  )
