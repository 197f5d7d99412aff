// Incident KPIs: incidents, open incidents and the oldest one, time to restore, to detect and
// to acknowledge. Definitions: docs/definitions.md#recovery-and-restore.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local who = '{{ $labels.app }} (team {{ $labels.team }})';

  // The alert on the median of an incident time histogram.
  local medianAlert(name, family, what, next) = {
    name: name,
    settings: setting(name),
    local window = r.window(config, self.settings),
    local limit = duration.text(duration.seconds(self.settings.threshold)),
    expr: '%s > %s' % [
      r.name('app', family, 'p50_' + window),
      p.num(duration.seconds(self.settings.threshold)),
    ],
    description: 'The median incident of %s took {{ $value | humanizeDuration }} to %s over'
                 % [who, what] + ' the last %s; the target is under %s.' % [window, limit],
    threshold: 'Median time to %s of the incidents of the last %s above %s.'
               % [what, window, limit],
    next: next,
  };

  [
    {
      name: 'incidents',
      title: 'Incidents',
      unit: 'incidents',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Production incidents started in the window, incidents open now, and the age of'
               + ' the oldest open one.',
      definition: 'definitions.md#recovery-and-restore',
      group: 'kpi-incidents',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_incidents:increase_7d',
        'team:kpi_incidents:increase_7d',
        'org:kpi_incidents:increase_7d',
        'app:kpi_incidents:increase_30d',
        'team:kpi_incidents:increase_30d',
        'org:kpi_incidents:increase_30d',
        'app:kpi_incidents:increase_90d',
        'team:kpi_incidents:increase_90d',
        'org:kpi_incidents:increase_90d',
        'app:kpi_incidents_open:sum',
        'team:kpi_incidents_open:sum',
        'org:kpi_incidents_open:sum',
        'app:kpi_incidents_open_age_seconds:max',
        'team:kpi_incidents_open_age_seconds:max',
        'org:kpi_incidents_open_age_seconds:max',
      ],
      records: records.counts('kpi_incidents')
               + records.sums('kpi_incidents_open')
               + r.perLevel(function(level) r.record(
                 r.name(level.name, 'kpi_incidents_open_age_seconds', 'max'),
                 'time() - ' + p.aggregate('min', level.labels, records.exporter(
                   'kpi_incidents_oldest_open_start_timestamp_seconds'
                 )),
               )),
      alerts: [
        {
          name: 'IncidentOpenTooLong',
          settings: setting(self.name),
          local limit = duration.text(duration.seconds(self.settings.threshold)),
          expr: '%s > %s' % [
            r.name('app', 'kpi_incidents_open_age_seconds', 'max'),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'An incident is open for longer than the restore target.',
          description: 'The oldest open incident of %s started {{ $value | humanizeDuration }}'
                       % who + ' ago; the target time to restore is under %s.' % limit,
          meaning: 'The age of the oldest incident of the app that is not resolved yet: how'
                   + ' long users have been affected, if it still has impact.',
          threshold: 'An incident open for more than %s.' % limit,
          next: [
            'The incident in the incident tool: its status, commander and the last update.',
            'The last production deployment of the app before the incident started: the'
            + ' exporter links the incident to it unless the incident names another.',
            'An incident resolved in practice but not closed in the tool also counts: close it.',
          ],
        },
      ],
    },
    {
      name: 'incidents_unlinked',
      title: 'Unlinked incidents',
      unit: 'ratio (0..1)',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'Production incidents started in the window that the exporter linked to no'
               + ' deployment, and their share of all production incidents: a failure the'
               + ' change failure rate cannot count.',
      definition: 'definitions.md#failed-deployment-change-failure-rate',
      group: 'kpi-incidents-unlinked',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_incidents_unlinked:increase_7d',
        'team:kpi_incidents_unlinked:increase_7d',
        'org:kpi_incidents_unlinked:increase_7d',
        'app:kpi_incidents_unlinked:increase_30d',
        'team:kpi_incidents_unlinked:increase_30d',
        'org:kpi_incidents_unlinked:increase_30d',
        'app:kpi_incidents_unlinked:increase_90d',
        'team:kpi_incidents_unlinked:increase_90d',
        'org:kpi_incidents_unlinked:increase_90d',
        'app:kpi_incidents_unlinked_per_incidents:ratio_7d',
        'team:kpi_incidents_unlinked_per_incidents:ratio_7d',
        'org:kpi_incidents_unlinked_per_incidents:ratio_7d',
        'app:kpi_incidents_unlinked_per_incidents:ratio_30d',
        'team:kpi_incidents_unlinked_per_incidents:ratio_30d',
        'org:kpi_incidents_unlinked_per_incidents:ratio_30d',
        'app:kpi_incidents_unlinked_per_incidents:ratio_90d',
        'team:kpi_incidents_unlinked_per_incidents:ratio_90d',
        'org:kpi_incidents_unlinked_per_incidents:ratio_90d',
      ],
      records: records.counts('kpi_incidents_unlinked')
               + records.ratios('kpi_incidents_unlinked', 'kpi_incidents'),
      alerts: [
        {
          name: 'IncidentsUnlinkedHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local min = p.num(self.settings.min_incidents),
          expr: '%s > %s\nand on (app, team)\n%s >= %s' % [
            r.name('app', 'kpi_incidents_unlinked_per_incidents', 'ratio_' + window),
            p.num(self.settings.threshold),
            r.name('app', 'kpi_incidents', 'increase_' + window),
            min,
          ],
          summary: 'Many incidents are linked to no deployment.',
          description: '{{ $value | humanizePercentage }} of the production incidents of %s'
                       % who + ' started over the last %s are linked to no deployment.' % window,
          meaning: $.meaning,
          threshold: 'More than %s of the production incidents of the last %s linked to no'
                     % [p.percent(self.settings.threshold), window] + ' deployment, once'
                     + ' the app has at least %s production incidents in the window.' % min,
          next: [
            'Whether the incidents name a deployment, a commit or a pull request the source'
            + ' reports: an explicit reference links first.',
            'The production deployments of the app before the incidents'
            + ' (`app:kpi_deployments:increase_%s`): none within the incident horizon' % window
            + ' means the deployments do not reach the exporter.',
            'The change failure rate of the app'
            + ' (`app:kpi_deployments_failed_per_deployments:ratio_%s`): it misses' % window
            + ' these failures.',
          ],
        },
      ],
    },
    {
      name: 'time_to_restore',
      title: 'Time to restore',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'How long production incidents take from their start to resolved (median,'
               + ' 75th and 90th percentiles of the incidents resolved in the window).',
      definition: 'definitions.md#recovery-and-restore',
      group: 'kpi-time-to-restore',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_incident_restore_seconds:p50_7d',
        'team:kpi_incident_restore_seconds:p50_7d',
        'org:kpi_incident_restore_seconds:p50_7d',
        'app:kpi_incident_restore_seconds:p75_7d',
        'team:kpi_incident_restore_seconds:p75_7d',
        'org:kpi_incident_restore_seconds:p75_7d',
        'app:kpi_incident_restore_seconds:p90_7d',
        'team:kpi_incident_restore_seconds:p90_7d',
        'org:kpi_incident_restore_seconds:p90_7d',
        'app:kpi_incident_restore_seconds:p50_30d',
        'team:kpi_incident_restore_seconds:p50_30d',
        'org:kpi_incident_restore_seconds:p50_30d',
        'app:kpi_incident_restore_seconds:p75_30d',
        'team:kpi_incident_restore_seconds:p75_30d',
        'org:kpi_incident_restore_seconds:p75_30d',
        'app:kpi_incident_restore_seconds:p90_30d',
        'team:kpi_incident_restore_seconds:p90_30d',
        'org:kpi_incident_restore_seconds:p90_30d',
        'app:kpi_incident_restore_seconds:p50_90d',
        'team:kpi_incident_restore_seconds:p50_90d',
        'org:kpi_incident_restore_seconds:p50_90d',
        'app:kpi_incident_restore_seconds:p75_90d',
        'team:kpi_incident_restore_seconds:p75_90d',
        'org:kpi_incident_restore_seconds:p75_90d',
        'app:kpi_incident_restore_seconds:p90_90d',
        'team:kpi_incident_restore_seconds:p90_90d',
        'org:kpi_incident_restore_seconds:p90_90d',
      ],
      records: records.quantiles('kpi_incident_restore_seconds'),
      alerts: [
        medianAlert('TimeToRestoreHigh', 'kpi_incident_restore_seconds', 'restore', [
          'The slowest incidents of the window and their timelines: where did the time go,'
          + ' detection, diagnosis, or the fix and its deployment?',
          'Time to detect and to acknowledge of the same incidents'
          + ' (`app:kpi_incident_detect_seconds:p50_%s`).' % config.windows.short,
          'Failed deployment recovery time (`app:kpi_failed_deployment_recovery_seconds'
          + ':p50_%s`): can a rollback restore service faster?' % config.windows.short,
        ]) {
          summary: 'Incidents take too long to restore.',
          meaning: $.meaning,
        },
      ],
    },
    {
      name: 'time_to_detect',
      title: 'Time to detect',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'How long an incident affects users before anyone knows: impact start to'
               + ' detection, where the source records both.',
      definition: 'definitions.md#recovery-and-restore',
      group: 'kpi-time-to-detect',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_incident_detect_seconds:p50_7d',
        'team:kpi_incident_detect_seconds:p50_7d',
        'org:kpi_incident_detect_seconds:p50_7d',
        'app:kpi_incident_detect_seconds:p75_7d',
        'team:kpi_incident_detect_seconds:p75_7d',
        'org:kpi_incident_detect_seconds:p75_7d',
        'app:kpi_incident_detect_seconds:p90_7d',
        'team:kpi_incident_detect_seconds:p90_7d',
        'org:kpi_incident_detect_seconds:p90_7d',
        'app:kpi_incident_detect_seconds:p50_30d',
        'team:kpi_incident_detect_seconds:p50_30d',
        'org:kpi_incident_detect_seconds:p50_30d',
        'app:kpi_incident_detect_seconds:p75_30d',
        'team:kpi_incident_detect_seconds:p75_30d',
        'org:kpi_incident_detect_seconds:p75_30d',
        'app:kpi_incident_detect_seconds:p90_30d',
        'team:kpi_incident_detect_seconds:p90_30d',
        'org:kpi_incident_detect_seconds:p90_30d',
        'app:kpi_incident_detect_seconds:p50_90d',
        'team:kpi_incident_detect_seconds:p50_90d',
        'org:kpi_incident_detect_seconds:p50_90d',
        'app:kpi_incident_detect_seconds:p75_90d',
        'team:kpi_incident_detect_seconds:p75_90d',
        'org:kpi_incident_detect_seconds:p75_90d',
        'app:kpi_incident_detect_seconds:p90_90d',
        'team:kpi_incident_detect_seconds:p90_90d',
        'org:kpi_incident_detect_seconds:p90_90d',
      ],
      records: records.quantiles('kpi_incident_detect_seconds'),
      alerts: [
        medianAlert('TimeToDetectHigh', 'kpi_incident_detect_seconds', 'detect', [
          'How each slow incident was detected: an alert, a customer, a colleague? Incidents'
          + ' reported by customers point to the missing alerts.',
          'The alerts that fired during the impact and were ignored: noisy alerts hide real'
          + ' ones.',
        ]) {
          summary: 'Incidents take too long to detect.',
          meaning: $.meaning,
        },
      ],
    },
    {
      name: 'time_to_acknowledge',
      title: 'Time to acknowledge',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'How long an incident waits for someone to acknowledge it: detection (or'
               + ' start) to acknowledgement, where the source has it.',
      definition: 'definitions.md#recovery-and-restore',
      group: 'kpi-time-to-acknowledge',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_incident_acknowledge_seconds:p50_7d',
        'team:kpi_incident_acknowledge_seconds:p50_7d',
        'org:kpi_incident_acknowledge_seconds:p50_7d',
        'app:kpi_incident_acknowledge_seconds:p75_7d',
        'team:kpi_incident_acknowledge_seconds:p75_7d',
        'org:kpi_incident_acknowledge_seconds:p75_7d',
        'app:kpi_incident_acknowledge_seconds:p90_7d',
        'team:kpi_incident_acknowledge_seconds:p90_7d',
        'org:kpi_incident_acknowledge_seconds:p90_7d',
        'app:kpi_incident_acknowledge_seconds:p50_30d',
        'team:kpi_incident_acknowledge_seconds:p50_30d',
        'org:kpi_incident_acknowledge_seconds:p50_30d',
        'app:kpi_incident_acknowledge_seconds:p75_30d',
        'team:kpi_incident_acknowledge_seconds:p75_30d',
        'org:kpi_incident_acknowledge_seconds:p75_30d',
        'app:kpi_incident_acknowledge_seconds:p90_30d',
        'team:kpi_incident_acknowledge_seconds:p90_30d',
        'org:kpi_incident_acknowledge_seconds:p90_30d',
        'app:kpi_incident_acknowledge_seconds:p50_90d',
        'team:kpi_incident_acknowledge_seconds:p50_90d',
        'org:kpi_incident_acknowledge_seconds:p50_90d',
        'app:kpi_incident_acknowledge_seconds:p75_90d',
        'team:kpi_incident_acknowledge_seconds:p75_90d',
        'org:kpi_incident_acknowledge_seconds:p75_90d',
        'app:kpi_incident_acknowledge_seconds:p90_90d',
        'team:kpi_incident_acknowledge_seconds:p90_90d',
        'org:kpi_incident_acknowledge_seconds:p90_90d',
      ],
      records: records.quantiles('kpi_incident_acknowledge_seconds'),
      alerts: [
        medianAlert('TimeToAcknowledgeHigh', 'kpi_incident_acknowledge_seconds', 'acknowledge', [
          "The paging tool's escalation policy and notification log for the slow"
          + ' acknowledgements.',
          'The number of pages per on-call shift: more than a few a day leads to fatigue.',
        ]) {
          summary: 'Incidents take too long to acknowledge.',
          meaning: $.meaning,
        },
      ],
    },
  ]
