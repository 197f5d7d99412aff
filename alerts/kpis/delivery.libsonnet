// Delivery KPIs (DORA): deployment frequency, change failure rate, rework rate, change lead
// time and failed deployment recovery time. Definitions: docs/definitions.md.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local who = '{{ $labels.app }} (team {{ $labels.team }})';

  [
    {
      name: 'deployment_frequency',
      title: 'Deployment frequency',
      unit: 'deployments per day',
      grafana_unit: 'short',  // for dashboards
      direction: 'higher',
      dora: 'deployment_frequency',
      meaning: 'How often an app deploys successfully to production: deployments per day over'
               + ' the window, and deploy days (UTC days with at least one production'
               + ' deployment among the last complete days of the window).',
      definition: 'definitions.md#deployment',
      group: 'kpi-deployment-frequency',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_deployments:increase_7d',
        'team:kpi_deployments:increase_7d',
        'org:kpi_deployments:increase_7d',
        'app:kpi_deployments:increase_30d',
        'team:kpi_deployments:increase_30d',
        'org:kpi_deployments:increase_30d',
        'app:kpi_deployments:increase_90d',
        'team:kpi_deployments:increase_90d',
        'org:kpi_deployments:increase_90d',
        'app:kpi_deployments:per_day_7d',
        'team:kpi_deployments:per_day_7d',
        'org:kpi_deployments:per_day_7d',
        'app:kpi_deployments:per_day_30d',
        'team:kpi_deployments:per_day_30d',
        'org:kpi_deployments:per_day_30d',
        'app:kpi_deployments:per_day_90d',
        'team:kpi_deployments:per_day_90d',
        'org:kpi_deployments:per_day_90d',
        'app:kpi_deployments:deploy_days_7d',
        'team:kpi_deployments:deploy_days_7d',
        'org:kpi_deployments:deploy_days_7d',
        'app:kpi_deployments:deploy_days_30d',
        'team:kpi_deployments:deploy_days_30d',
        'org:kpi_deployments:deploy_days_30d',
        'app:kpi_deployments:deploy_days_90d',
        'team:kpi_deployments:deploy_days_90d',
        'org:kpi_deployments:deploy_days_90d',
      ],
      records: records.counts('kpi_deployments')
               + r.perLevelWindow(config, function(level, window) r.record(
                 r.name(level.name, 'kpi_deployments', 'per_day_' + window),
                 '%s / %s' % [
                   r.name(level.name, 'kpi_deployments', 'increase_' + window),
                   p.num(duration.days(window)),
                 ],
               ))
               // Deploy days are not a sum of the apps' (two apps deploying the same day make
               // one deploy day of their team): the exporter publishes them at every level.
               + r.perLevelWindow(config, function(level, window) r.record(
                 r.name(level.name, 'kpi_deployments', 'deploy_days_' + window),
                 p.sum(level.labels, records.inWindow('kpi_deployed_dates', window, level.matchers)),
               )),
      alerts: [
        {
          name: 'ProductionDeploysStalled',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > 0 unless on (app, team) %s > 0' % [
            r.name('app', 'kpi_changes_merged', 'increase_' + window),
            r.name('app', 'kpi_deployments', 'increase_' + window),
          ],
          summary: 'Changes are merged but not deployed to production.',
          description: '%s merged {{ $value | humanize }} changes in the last %s but deployed'
                       % [who, window] + ' none of them to production.',
          meaning: 'Merged changes that do not reach production wait in a queue: they deliver'
                   + ' nothing, and the next deployment grows larger and riskier.',
          threshold: 'No successful production deployment in the last %s while at least one'
                     % window + ' change was merged.',
          next: [
            "The app's deployment pipeline: a failing or paused production stage, a manual"
            + ' approval waiting.',
            'Deployments to other environments (staging) that stopped short of production:'
            + ' `kpi_deployments_total` counts production only (`production_environments`).',
            'Whether the source still reports deployments: `kpi_exporter_source_up` and the'
            + ' exporter log.',
          ],
        },
      ],
    },
    {
      name: 'change_failure_rate',
      title: 'Change failure rate',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      dora: 'change_failure_rate',
      meaning: 'The share of production deployments that failed: linked to an incident,'
               + ' rolled back, or followed by a hotfix within the hotfix window.',
      definition: 'definitions.md#failed-deployment-change-failure-rate',
      group: 'kpi-change-failure-rate',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_deployments_failed:increase_7d',
        'team:kpi_deployments_failed:increase_7d',
        'org:kpi_deployments_failed:increase_7d',
        'app:kpi_deployments_failed:increase_30d',
        'team:kpi_deployments_failed:increase_30d',
        'org:kpi_deployments_failed:increase_30d',
        'app:kpi_deployments_failed:increase_90d',
        'team:kpi_deployments_failed:increase_90d',
        'org:kpi_deployments_failed:increase_90d',
        'app:kpi_deployments_failed_per_deployments:ratio_7d',
        'team:kpi_deployments_failed_per_deployments:ratio_7d',
        'org:kpi_deployments_failed_per_deployments:ratio_7d',
        'app:kpi_deployments_failed_per_deployments:ratio_30d',
        'team:kpi_deployments_failed_per_deployments:ratio_30d',
        'org:kpi_deployments_failed_per_deployments:ratio_30d',
        'app:kpi_deployments_failed_per_deployments:ratio_90d',
        'team:kpi_deployments_failed_per_deployments:ratio_90d',
        'org:kpi_deployments_failed_per_deployments:ratio_90d',
      ],
      records: records.counts('kpi_deployments_failed')
               + records.ratios('kpi_deployments_failed', 'kpi_deployments'),
      alerts: [
        {
          name: 'ChangeFailureRateHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_deployments_failed_per_deployments', 'ratio_' + window),
            p.num(self.settings.threshold),
          ] + records.minDeployments(window, self.settings.min_deployments),
          summary: 'Change failure rate above its target.',
          description: '{{ $value | humanizePercentage }} of the production deployments of %s'
                       % who + ' failed over the last %s; the target is at most %s.'
                       % [window, p.percent(self.settings.threshold)],
          meaning: $.meaning,
          threshold: 'More than %s of the production deployments of the last %s failed,'
                     % [p.percent(self.settings.threshold), window]
                     + ' once the app has at least %s production deployments in the window.'
                     % p.num(self.settings.min_deployments),
          next: [
            'Which deployments failed and why: the incidents linked to them, the rollbacks and'
            + ' the hotfixes (`kpi_deployments_failed_total` and `kpi_deployments_rework_total`'
            + ' by environment).',
            'The change size and review time of the failed changes: large or unreviewed'
            + ' changes fail more often.',
            'The DORA tier of the app: `app:kpi_dora_tier:%s`.' % config.windows.long,
          ],
        },
      ],
    },
    {
      name: 'rework_rate',
      title: 'Rework rate',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of production deployments that were unplanned (DORA\'s deployment'
               + ' rework rate): declared hotfixes and rollbacks, or, with `linking.rework:'
               + ' incident_follow_up` or `both`, deployments that followed a production incident'
               + ' of the app within `linking.rework_window`.',
      definition: 'definitions.md#rework',
      group: 'kpi-rework-rate',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_deployments_rework:increase_7d',
        'team:kpi_deployments_rework:increase_7d',
        'org:kpi_deployments_rework:increase_7d',
        'app:kpi_deployments_rework:increase_30d',
        'team:kpi_deployments_rework:increase_30d',
        'org:kpi_deployments_rework:increase_30d',
        'app:kpi_deployments_rework:increase_90d',
        'team:kpi_deployments_rework:increase_90d',
        'org:kpi_deployments_rework:increase_90d',
        'app:kpi_deployments_rework_per_deployments:ratio_7d',
        'team:kpi_deployments_rework_per_deployments:ratio_7d',
        'org:kpi_deployments_rework_per_deployments:ratio_7d',
        'app:kpi_deployments_rework_per_deployments:ratio_30d',
        'team:kpi_deployments_rework_per_deployments:ratio_30d',
        'org:kpi_deployments_rework_per_deployments:ratio_30d',
        'app:kpi_deployments_rework_per_deployments:ratio_90d',
        'team:kpi_deployments_rework_per_deployments:ratio_90d',
        'org:kpi_deployments_rework_per_deployments:ratio_90d',
      ],
      records: records.counts('kpi_deployments_rework')
               + records.ratios('kpi_deployments_rework', 'kpi_deployments'),
      alerts: [
        {
          name: 'ReworkRateHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_deployments_rework_per_deployments', 'ratio_' + window),
            p.num(self.settings.threshold),
          ] + records.minDeployments(window, self.settings.min_deployments),
          summary: 'Too many deployments are unplanned rework.',
          description: '{{ $value | humanizePercentage }} of the production deployments of %s'
                       % who + ' over the last %s were unplanned rework; the target is'
                       % window + ' at most %s.' % p.percent(self.settings.threshold),
          meaning: $.meaning,
          threshold: 'More than %s of the production deployments of the last %s were'
                     % [p.percent(self.settings.threshold), window] + ' unplanned rework (hotfixes,'
                     + ' rollbacks or, by the configured definition, deployments following a'
                     + ' production incident),'
                     + ' once the app has at least %s production deployments in the window.'
                     % p.num(self.settings.min_deployments),
          next: [
            'The rework deployments of the window (`kpi-exporter explain --app APP`): the'
            + ' hotfixes and rollbacks and the deployments they repaired, or the incidents they'
            + ' followed.',
            'The change failure rate of the app: `app:kpi_deployments_failed_per_deployments'
            + ':ratio_%s`.' % window,
          ],
        },
      ],
    },
    {
      name: 'change_lead_time',
      title: 'Change lead time',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      dora: 'change_lead_time',
      meaning: 'How long a change takes from its first commit to the end of the first'
               + ' successful production deployment that contains it (median, 75th and 90th'
               + ' percentiles of the changes deployed in the window).',
      definition: 'definitions.md#change-lead-time',
      group: 'kpi-change-lead-time',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_change_lead_time_seconds:p50_7d',
        'team:kpi_change_lead_time_seconds:p50_7d',
        'org:kpi_change_lead_time_seconds:p50_7d',
        'app:kpi_change_lead_time_seconds:p75_7d',
        'team:kpi_change_lead_time_seconds:p75_7d',
        'org:kpi_change_lead_time_seconds:p75_7d',
        'app:kpi_change_lead_time_seconds:p90_7d',
        'team:kpi_change_lead_time_seconds:p90_7d',
        'org:kpi_change_lead_time_seconds:p90_7d',
        'app:kpi_change_lead_time_seconds:p50_30d',
        'team:kpi_change_lead_time_seconds:p50_30d',
        'org:kpi_change_lead_time_seconds:p50_30d',
        'app:kpi_change_lead_time_seconds:p75_30d',
        'team:kpi_change_lead_time_seconds:p75_30d',
        'org:kpi_change_lead_time_seconds:p75_30d',
        'app:kpi_change_lead_time_seconds:p90_30d',
        'team:kpi_change_lead_time_seconds:p90_30d',
        'org:kpi_change_lead_time_seconds:p90_30d',
        'app:kpi_change_lead_time_seconds:p50_90d',
        'team:kpi_change_lead_time_seconds:p50_90d',
        'org:kpi_change_lead_time_seconds:p50_90d',
        'app:kpi_change_lead_time_seconds:p75_90d',
        'team:kpi_change_lead_time_seconds:p75_90d',
        'org:kpi_change_lead_time_seconds:p75_90d',
        'app:kpi_change_lead_time_seconds:p90_90d',
        'team:kpi_change_lead_time_seconds:p90_90d',
        'org:kpi_change_lead_time_seconds:p90_90d',
      ],
      records: records.quantiles('kpi_change_lead_time_seconds'),
      alerts: [
        {
          name: 'ChangeLeadTimeHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_change_lead_time_seconds', 'p50_' + window),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'Changes take too long to reach production.',
          description: 'The median change of %s took {{ $value | humanizeDuration }} from'
                       % who + ' first commit to production over the last %s; the target is'
                       % window + ' under %s.'
                       % duration.text(duration.seconds(self.settings.threshold)),
          meaning: $.meaning,
          threshold: 'Median lead time of the changes deployed in the last %s above %s.'
                     % [window, duration.text(duration.seconds(self.settings.threshold))],
          next: [
            'Where the time goes: the flow stages of the same changes (coding, pickup, review,'
            + ' deploy): `app:kpi_change_pickup_seconds:p50_%s` and its neighbours.' % window,
            'Open changes by age (`kpi_changes_open_by_age`): work waiting in a queue.',
            'The deploy stage: how often the app deploys (`app:kpi_deployments:per_day_%s`).'
            % window,
          ],
        },
      ],
    },
    {
      name: 'failed_deployment_recovery_time',
      title: 'Failed deployment recovery time',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      dora: 'failed_deployment_recovery_time',
      meaning: 'How long a failed deployment takes to recover: until its linked incidents are'
               + ' resolved, or the next deployment rolled it back or fixed it.',
      definition: 'definitions.md#recovery-and-restore',
      group: 'kpi-deployment-recovery-time',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_failed_deployment_recovery_seconds:p50_7d',
        'team:kpi_failed_deployment_recovery_seconds:p50_7d',
        'org:kpi_failed_deployment_recovery_seconds:p50_7d',
        'app:kpi_failed_deployment_recovery_seconds:p75_7d',
        'team:kpi_failed_deployment_recovery_seconds:p75_7d',
        'org:kpi_failed_deployment_recovery_seconds:p75_7d',
        'app:kpi_failed_deployment_recovery_seconds:p90_7d',
        'team:kpi_failed_deployment_recovery_seconds:p90_7d',
        'org:kpi_failed_deployment_recovery_seconds:p90_7d',
        'app:kpi_failed_deployment_recovery_seconds:p50_30d',
        'team:kpi_failed_deployment_recovery_seconds:p50_30d',
        'org:kpi_failed_deployment_recovery_seconds:p50_30d',
        'app:kpi_failed_deployment_recovery_seconds:p75_30d',
        'team:kpi_failed_deployment_recovery_seconds:p75_30d',
        'org:kpi_failed_deployment_recovery_seconds:p75_30d',
        'app:kpi_failed_deployment_recovery_seconds:p90_30d',
        'team:kpi_failed_deployment_recovery_seconds:p90_30d',
        'org:kpi_failed_deployment_recovery_seconds:p90_30d',
        'app:kpi_failed_deployment_recovery_seconds:p50_90d',
        'team:kpi_failed_deployment_recovery_seconds:p50_90d',
        'org:kpi_failed_deployment_recovery_seconds:p50_90d',
        'app:kpi_failed_deployment_recovery_seconds:p75_90d',
        'team:kpi_failed_deployment_recovery_seconds:p75_90d',
        'org:kpi_failed_deployment_recovery_seconds:p75_90d',
        'app:kpi_failed_deployment_recovery_seconds:p90_90d',
        'team:kpi_failed_deployment_recovery_seconds:p90_90d',
        'org:kpi_failed_deployment_recovery_seconds:p90_90d',
      ],
      records: records.quantiles('kpi_failed_deployment_recovery_seconds'),
      alerts: [
        {
          name: 'DeploymentRecoveryTimeHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          expr: '%s > %s' % [
            r.name('app', 'kpi_failed_deployment_recovery_seconds', 'p50_' + window),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'Failed deployments take too long to recover.',
          description: 'The median failed deployment of %s took {{ $value | humanizeDuration }}'
                       % who + ' to recover over the last %s; the target is under %s.'
                       % [window, duration.text(duration.seconds(self.settings.threshold))],
          meaning: $.meaning,
          threshold: 'Median recovery time of the failed deployments recovered in the last %s'
                     % window + ' above %s.'
                     % duration.text(duration.seconds(self.settings.threshold)),
          next: [
            'How the failed deployments recovered: by rollback, by a fix, or by resolving an'
            + ' incident; a fix forward is usually the slow path.',
            'Time to detect and to restore of the linked incidents'
            + ' (`app:kpi_incident_restore_seconds:p50_%s`).' % window,
          ],
        },
      ],
    },
  ]
