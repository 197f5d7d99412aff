// The exporter's own health: sources down or stale, rate limits, no exporter, no data.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local source = 'Source {{ $labels.source }} of {{ $labels.instance }}';
  local logs = 'The exporter log (`kpi-exporter run --log.level debug` for each request).';

  [
    {
      name: 'exporter_health',
      title: 'Exporter health',
      unit: 'sources',
      grafana_unit: 'none',  // for dashboards
      direction: 'higher',
      meaning: "The exporter's own health per source: up, last successful poll, API requests"
               + ' and rate limit, events stored.',
      definition: 'metrics.md#exporter-health',
      group: 'kpi-exporter',
      // The names these rules record (default configuration; a test compares).
      recorded:: [],
      records: [],
      alerts: [
        {
          name: 'KpiExporterSourceDown',
          settings: setting(self.name),
          expr: '%s == 0' % records.exporter('kpi_exporter_source_up'),
          summary: 'A kpi-exporter source fails to poll.',
          description: 'Source {{ $labels.source }} ({{ $labels.type }}) of {{ $labels.instance }}'
                       + ' failed its last poll; its metrics keep their last good values.',
          meaning: '`kpi_exporter_source_up` is 0 when the last poll of a source failed (or'
                   + ' has not run yet).',
          threshold: 'The last poll failed, for %s.' % self.settings['for'],
          next: [
            logs,
            '`kpi_exporter_api_requests_total` by `code`: 401 and 403 are credentials, 429'
            + ' the rate limit, 5xx the API.',
            '`kpi-exporter check-config --config FILE` with the same configuration.',
          ],
        },
        {
          name: 'KpiExporterDataStale',
          settings: setting(self.name),
          local limit = duration.text(duration.seconds(self.settings.threshold)),
          expr: 'time() - %s > %s' % [
            records.exporter('kpi_exporter_source_last_success_timestamp_seconds'),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'A kpi-exporter source has not been polled successfully for too long.',
          description: '%s was last polled successfully {{ $value | humanizeDuration }} ago.'
                       % source,
          meaning: 'The time since the last successful poll of a source: the age of what'
                   + ' its dashboards show.',
          threshold: 'No successful poll for more than %s.' % limit,
          next: [
            logs,
            '`kpi_exporter_source_poll_duration_seconds`: a poll that takes longer than its'
            + ' interval.',
          ],
        },
        {
          name: 'KpiExporterRateLimitLow',
          settings: setting(self.name),
          expr: '%s < %s' % [
            records.exporter('kpi_exporter_api_rate_limit_remaining'),
            p.num(self.settings.threshold),
          ],
          summary: 'A source API rate limit is nearly exhausted.',
          description: '%s has {{ $value | humanize }} API requests left in its rate-limit'
                       % source + ' window.',
          meaning: "Requests left in the source API's current rate-limit window, as the API"
                   + ' reports it.',
          threshold: 'Fewer than %s requests left.' % p.num(self.settings.threshold),
          next: [
            '`rate(kpi_exporter_api_requests_total[1h])` by source and code: which source'
            + ' spends the budget, and how many requests come back 304 (free).',
            'Other tools sharing the same token.',
          ],
        },
        {
          name: 'KpiExporterAbsent',
          settings: setting(self.name),
          expr: 'absent(%s)' % records.exporter('kpi_exporter_build_info'),
          summary: 'Prometheus has no kpi-exporter to scrape.',
          description: 'Prometheus has no kpi-exporter series from job "{{ $labels.job }}":'
                       + ' the exporter is down or not scraped.',
          meaning: '`kpi_exporter_build_info` is present while Prometheus scrapes the exporter.',
          threshold: 'No exporter scraped for %s.' % self.settings['for'],
          next: [
            '`up{%s}` and the Targets page of Prometheus: the scrape error.'
            % config.selectors.exporter,
            'The exporter pod or process: restarts, out of memory, a store on a full volume.',
          ],
        },
        {
          name: 'KpiExporterNoEvents',
          settings: setting(self.name),
          expr: '%s unless on (job, instance) %s' % [
            records.exporter('kpi_exporter_build_info'),
            records.exporter('kpi_exporter_events_stored'),
          ],
          summary: 'kpi-exporter has stored no event.',
          description: 'kpi-exporter {{ $labels.instance }} (version {{ $labels.version }})'
                       + ' has stored no event from any source.',
          meaning: '`kpi_exporter_events_stored` counts the events in the store by source and'
                   + ' kind; without any, every KPI is empty.',
          threshold: 'The exporter runs and has stored nothing, for %s.' % self.settings['for'],
          next: [
            logs,
            '`kpi_exporter_source_up` and `kpi_exporter_events_rejected_total` per source.',
          ],
        },
        {
          name: 'KpiExporterEventsRejected',
          settings: setting(self.name),
          expr: 'increase(%s[%s]) > 0' % [
            records.exporter('kpi_exporter_events_rejected_total'),
            self.settings.over,
          ],
          summary: 'kpi-exporter rejected invalid input records.',
          description: '%s rejected {{ $value | humanize }} invalid input records over the'
                       % source + ' last %s.' % self.settings.over,
          meaning: 'Input records (event file lines, ingested events, polled records) skipped,'
                   + ' by reason: invalid (cannot be read) or cardinality (a new app, team or'
                   + ' environment over its label limit): a deployment or incident that does'
                   + ' not count.',
          threshold: 'Any record rejected in the last %s.' % self.settings.over,
          next: [
            logs + ' Each rejected record is logged with its file, line and field, each'
            + ' refused label value with its limit.',
            'The event format: docs/events.md; the label limits: docs/design.md#label-limits.',
          ],
        },
      ],
    },
  ]
