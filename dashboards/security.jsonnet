// Security: open findings by severity, those past their SLA, the oldest open finding and
// the time to fix; the share of repositories with code scanning and secret scanning, and the
// dependency update pull requests left open (seed 002's security coverage and dependency age). Numbers read the organisation's, teams' or apps' series, whichever
// answers the selection (`overall` and `breakdown` in lib/grafana.libsonnet).
local g = import 'lib/grafana.libsonnet';

function(overrides={})
  local k = (import 'lib/kpis.libsonnet')(overrides);
  local L = k.long;
  local m = g.matchers();
  g.dashboard(
    uid='kpi-security',
    title='KPI / Security',
    description='Open security findings by severity, SLA breaches (critical 7 days, high 30'
                + ' days by default), age of the oldest open finding and time to fix. The median'
                + ' time to fix is the organisation\'s with All selected, the slowest picked team\'s'
                + ' or app\'s otherwise. Coverage: the share of repositories with code scanning'
                + ' and secret scanning (target 80 %), and dependency updates left open.',
    tags=['domain', 'security'],
    panels=[
      k.panel('stat', 'vulnerabilities_open',
              [g.target(g.overall('sum', 'kpi_vulnerabilities_sla_breached:sum', extra='severity="critical"') + ' or vector(0)', 'critical')],
              title='Critical findings past SLA', alert='CriticalVulnerabilityPastSla', w=6),
      k.panel('stat', 'vulnerabilities_open',
              [g.target(g.overall('sum', 'kpi_vulnerabilities_sla_breached:sum', extra='severity="high"') + ' or vector(0)', 'high')],
              title='High findings past SLA', alert='HighVulnerabilityPastSla', w=6),
      k.panel('stat', 'vulnerabilities_open',
              [g.target(g.overall('max', 'kpi_vulnerabilities_open_age_seconds:max'), 'oldest')],
              title='Oldest open finding', w=6)
      + { fieldConfig+: { defaults+: { unit: 's', thresholds: g.thresholds([{ color: 'blue', value: null }]) } } },
      k.panel('stat', 'vulnerability_fix_time',
              [g.target(g.overall('max', 'kpi_vulnerability_fix_seconds:p50_' + L), 'median')],
              title='Time to fix, median (%s)' % L, w=6),
      k.panel('timeseries', 'vulnerabilities_open',
              [g.target(g.overall('sum', 'kpi_vulnerabilities_open:sum', by=['severity']), '{{severity}}')],
              title='Open findings by severity', w=12, stack=true),
      k.panel('bargauge', 'vulnerabilities_open',
              [g.target('sum by (app) (app:kpi_vulnerabilities_sla_breached:sum{%s})' % m, '{{app}}', instant=true)],
              title='Findings past SLA by app', w=12),
      k.panel('timeseries', 'vulnerabilities_closed', [
        g.target(g.overall('sum', 'kpi_vulnerabilities_fixed:increase_' + L), 'fixed'),
        g.target(g.overall('sum', 'kpi_vulnerabilities_dismissed:increase_' + L), 'dismissed'),
      ], title='Findings fixed and dismissed (%s)' % L, w=12),
      k.panel('timeseries', 'vulnerability_fix_time', [
        g.target(g.breakdown('kpi_vulnerability_fix_seconds:p50_' + L), '{{team}} {{app}} median'),
        g.target(g.breakdown('kpi_vulnerability_fix_seconds:p75_' + L), '{{team}} {{app}} p75'),
        g.target(g.breakdown('kpi_vulnerability_fix_seconds:p90_' + L), '{{team}} {{app}} p90'),
      ], title='Time to fix (%s)' % L, w=12),
      g.row('Coverage and dependency updates'),
      k.panel('stat', 'security_coverage',
              [g.target(g.ratio('kpi_security_repositories_enabled:sum', 'kpi_security_repositories:sum',
                                extra='feature="code_scanning"'), 'code scanning')],
              title='Repositories with code scanning', w=6),
      k.panel('stat', 'security_coverage',
              [g.target(g.ratio('kpi_security_repositories_enabled:sum', 'kpi_security_repositories:sum',
                                extra='feature="secret_scanning"'), 'secret scanning')],
              title='Repositories with secret scanning', w=6),
      k.panel('stat', 'dependency_updates',
              [g.target(g.overall('sum', 'kpi_dependency_updates_open:sum') + ' or vector(0)', 'open')],
              title='Dependency updates open', w=6),
      k.panel('stat', 'dependency_updates',
              [g.target(g.overall('sum', 'kpi_dependency_updates_open_by_age:sum',
                                  extra='older_than="%s"' % k.config.alerts.DependencyUpdatesStale.age)
                        + ' or vector(0)', 'older')],
              title='Dependency updates open more than %s' % k.config.alerts.DependencyUpdatesStale.age,
              alert='DependencyUpdatesStale', w=6),
      k.panel('bargauge', 'security_coverage',
              [g.target('sum by (team, feature) (app:kpi_security_repositories_enabled:sum{%s})'
                        % m + ' / sum by (team, feature) (app:kpi_security_repositories:sum{%s})'
                        % m, '{{team}} {{feature}}', instant=true)],
              title='Security scanning coverage by team', w=12),
      k.panel('bargauge', 'dependency_updates',
              [g.target('sum by (app) (app:kpi_dependency_updates_open_by_age:sum{older_than="%s", %s})'
                        % [k.config.alerts.DependencyUpdatesStale.age, m], '{{app}}', instant=true)],
              title='Dependency updates open more than %s by app'
                    % k.config.alerts.DependencyUpdatesStale.age, w=12),
    ],
  )
