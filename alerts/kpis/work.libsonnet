// Work-item flow KPIs, from the issue tracker: completed items and the investment mix, cycle
// and lead time, time in each queue and flow efficiency, work items in progress against a
// limit and the inventory per status. Definitions:
// docs/definitions.md#work-items-where-an-items-time-goes.
local duration = import '../lib/duration.libsonnet';
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local definition = 'definitions.md#work-items-where-an-items-time-goes';
  local work = config.work;
  local short = config.windows.short;
  local long = config.windows.long;

  // level:<name>:ratio_<window>: the exporter's window gauge `numerator` (with `matchers`,
  // kept by `extra` labels) over `denominator`, both added up over the level: latest samples.
  local share(name, numerator, matchers, denominator, extra=[]) = r.perLevelWindow(
    config,
    function(level, window)
      local top = p.sum(level.labels + extra, records.inWindow(numerator, window, matchers));
      local bottom = p.sum(level.labels, records.inWindow(denominator, window));
      r.record(
        r.name(level.name, name, 'ratio_' + window),
        if extra == [] then p.ratio(top, bottom)
        else top + '\n/ on (' + std.join(', ', level.labels) + ') group_left ()\n('
             + bottom + ' > 0)',
      ),
  );
  local completed(window) = r.name('team', 'kpi_work_items_completed', 'increase_' + window);
  local completedAtLeast(window, min) =
    '\nand on (team)\n' + p.sum(['team'], completed(window)) + ' >= ' + p.num(min);

  // The WIP limit of every team: the configured ones, and the default for the others.
  local limits = work.wip_limits;
  local wipLimit = std.join(' or ', [
    'label_replace(vector(%s), "team", "%s", "", "")' % [p.num(limits.teams[team]), team]
    for team in std.objectFields(limits.teams)
  ] + ['0 * team:kpi_work_items_in_progress:sum + %s' % p.num(limits.default)]);

  [
    {
      name: 'work_items_completed',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_work_items_completed:increase_7d',
        'team:kpi_work_items_completed:increase_7d',
        'org:kpi_work_items_completed:increase_7d',
        'app:kpi_work_items_completed:increase_30d',
        'team:kpi_work_items_completed:increase_30d',
        'org:kpi_work_items_completed:increase_30d',
        'app:kpi_work_items_completed:increase_90d',
        'team:kpi_work_items_completed:increase_90d',
        'org:kpi_work_items_completed:increase_90d',
        'app:kpi_work_items_completed:per_week_7d',
        'team:kpi_work_items_completed:per_week_7d',
        'org:kpi_work_items_completed:per_week_7d',
        'app:kpi_work_items_completed:per_week_30d',
        'team:kpi_work_items_completed:per_week_30d',
        'org:kpi_work_items_completed:per_week_30d',
        'app:kpi_work_items_completed:per_week_90d',
        'team:kpi_work_items_completed:per_week_90d',
        'org:kpi_work_items_completed:per_week_90d',
        'app:kpi_work_items_active_seconds:increase_7d',
        'team:kpi_work_items_active_seconds:increase_7d',
        'org:kpi_work_items_active_seconds:increase_7d',
        'app:kpi_work_items_active_seconds:increase_30d',
        'team:kpi_work_items_active_seconds:increase_30d',
        'org:kpi_work_items_active_seconds:increase_30d',
        'app:kpi_work_items_active_seconds:increase_90d',
        'team:kpi_work_items_active_seconds:increase_90d',
        'org:kpi_work_items_active_seconds:increase_90d',
        'app:kpi_work_items_tech_debt_share:ratio_7d',
        'team:kpi_work_items_tech_debt_share:ratio_7d',
        'org:kpi_work_items_tech_debt_share:ratio_7d',
        'app:kpi_work_items_tech_debt_share:ratio_30d',
        'team:kpi_work_items_tech_debt_share:ratio_30d',
        'org:kpi_work_items_tech_debt_share:ratio_30d',
        'app:kpi_work_items_tech_debt_share:ratio_90d',
        'team:kpi_work_items_tech_debt_share:ratio_90d',
        'org:kpi_work_items_tech_debt_share:ratio_90d',
      ],
      title: 'Completed work items and investment mix',
      unit: 'items',
      grafana_unit: 'short',  // for dashboards
      direction: 'higher',
      meaning: 'Work items completed in the window per investment category (and per week:'
               + ' the throughput), and the share of the active time of those items spent on'
               + ' technical debt.',
      definition: definition,
      group: 'kpi-work-items-completed',
      records: records.counts('kpi_work_items_completed', ['category'])
               // Throughput: completed items per week of the window, every category.
               + r.perLevelWindow(config, function(level, window) r.record(
                 r.name(level.name, 'kpi_work_items_completed', 'per_week_' + window),
                 '%s * 7 / %s' % [
                   p.sum(level.labels, r.name(level.name, 'kpi_work_items_completed',
                                              'increase_' + window)),
                   p.num(duration.days(window)),
                 ],
               ))
               + records.counts('kpi_work_items_active_seconds', ['category'])
               + share('kpi_work_items_tech_debt_share', 'kpi_work_items_active_seconds',
                       ['category="%s"' % work.debt_category], 'kpi_work_items_active_seconds'),
      alerts: [
        {
          name: 'TechDebtShareHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local min = self.settings.min_items,
          expr: '%s > %s%s' % [
            r.name('team', 'kpi_work_items_tech_debt_share', 'ratio_' + window),
            p.num(self.settings.threshold),
            completedAtLeast(window, min),
          ],
          summary: 'The team spends too much of its time on technical debt.',
          description: '{{ $value | humanizePercentage }} of the active time of the work items'
                       + ' team {{ $labels.team }} completed over the last %s went to' % window
                       + ' technical debt; the target is under %s.'
                         % p.percent(self.settings.threshold),
          meaning: 'The technical debt ratio: the share of engineering time (active time of'
                   + ' the completed work items) spent on debt rather than on features.',
          threshold: 'More than %s of the active time of the items completed in the last %s'
                     % [p.percent(self.settings.threshold), window]
                     + ' on `%s`, once the team completed at least %s items.'
                       % [work.debt_category, p.num(min)],
          next: [
            'The investment mix of the team (`team:kpi_work_items_completed:increase_%s`,'
            % window + ' by category): is the debt planned, or defects and incidents in'
            + ' disguise?',
            'The defect escape and change failure rates of its apps: debt that keeps coming'
            + ' back is often a missing test or a fragile component.',
          ],
        },
      ],
    },
    {
      name: 'work_item_cycle_time',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_work_item_cycle_time_seconds:p50_7d',
        'team:kpi_work_item_cycle_time_seconds:p50_7d',
        'org:kpi_work_item_cycle_time_seconds:p50_7d',
        'app:kpi_work_item_cycle_time_seconds:p75_7d',
        'team:kpi_work_item_cycle_time_seconds:p75_7d',
        'org:kpi_work_item_cycle_time_seconds:p75_7d',
        'app:kpi_work_item_cycle_time_seconds:p90_7d',
        'team:kpi_work_item_cycle_time_seconds:p90_7d',
        'org:kpi_work_item_cycle_time_seconds:p90_7d',
        'app:kpi_work_item_cycle_time_seconds:p50_30d',
        'team:kpi_work_item_cycle_time_seconds:p50_30d',
        'org:kpi_work_item_cycle_time_seconds:p50_30d',
        'app:kpi_work_item_cycle_time_seconds:p75_30d',
        'team:kpi_work_item_cycle_time_seconds:p75_30d',
        'org:kpi_work_item_cycle_time_seconds:p75_30d',
        'app:kpi_work_item_cycle_time_seconds:p90_30d',
        'team:kpi_work_item_cycle_time_seconds:p90_30d',
        'org:kpi_work_item_cycle_time_seconds:p90_30d',
        'app:kpi_work_item_cycle_time_seconds:p50_90d',
        'team:kpi_work_item_cycle_time_seconds:p50_90d',
        'org:kpi_work_item_cycle_time_seconds:p50_90d',
        'app:kpi_work_item_cycle_time_seconds:p75_90d',
        'team:kpi_work_item_cycle_time_seconds:p75_90d',
        'org:kpi_work_item_cycle_time_seconds:p75_90d',
        'app:kpi_work_item_cycle_time_seconds:p90_90d',
        'team:kpi_work_item_cycle_time_seconds:p90_90d',
        'org:kpi_work_item_cycle_time_seconds:p90_90d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p50_7d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p50_7d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p50_7d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p75_7d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p75_7d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p75_7d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p90_7d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p90_7d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p90_7d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p50_30d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p50_30d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p50_30d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p75_30d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p75_30d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p75_30d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p90_30d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p90_30d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p90_30d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p50_90d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p50_90d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p50_90d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p75_90d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p75_90d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p75_90d',
        'app:kpi_work_item_cycle_time_by_category_seconds:p90_90d',
        'team:kpi_work_item_cycle_time_by_category_seconds:p90_90d',
        'org:kpi_work_item_cycle_time_by_category_seconds:p90_90d',
      ],
      title: 'Work item cycle time',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'From the first active status of a work item to done (median, 75th and 90th'
               + ' percentiles of the items completed in the window, all of them and per'
               + ' investment category).',
      definition: definition,
      group: 'kpi-work-item-cycle-time',
      records: records.quantiles('kpi_work_item_cycle_time_seconds')
               // Per investment category, at every level (bounded by label_limits.category).
               + records.quantiles('kpi_work_item_cycle_time_by_category_seconds', ['category']),
      alerts: [
        {
          name: 'WorkItemCycleTimeHigh',
          settings: setting(self.name),
          local window = r.window(config, self.settings),
          local limit = duration.text(duration.seconds(self.settings.threshold)),
          expr: '%s > %s' % [
            r.name('team', 'kpi_work_item_cycle_time_seconds', 'p50_' + window),
            p.num(duration.seconds(self.settings.threshold)),
          ],
          summary: 'Work items take too long from start to done.',
          description: 'The median work item of team {{ $labels.team }} took {{ $value |'
                       + ' humanizeDuration }} from start to done over the last %s; the'
                       % window + ' target is at most %s.' % limit,
          meaning: $.meaning,
          threshold: 'Median cycle time of the items completed in the last %s above %s.'
                     % [window, limit],
          next: [
            'Where the time goes: the queues of the team'
            + ' (`team:kpi_work_items_wait_share:ratio_%s`, by status).' % window,
            'Work in progress against the limit (`team:kpi_work_items_in_progress:sum`): the'
            + ' more items in parallel, the longer each takes.',
            'The size of the items: split the large ones.',
          ],
        },
      ],
    },
    {
      name: 'work_item_lead_time',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_work_item_lead_time_seconds:p50_7d',
        'team:kpi_work_item_lead_time_seconds:p50_7d',
        'org:kpi_work_item_lead_time_seconds:p50_7d',
        'app:kpi_work_item_lead_time_seconds:p75_7d',
        'team:kpi_work_item_lead_time_seconds:p75_7d',
        'org:kpi_work_item_lead_time_seconds:p75_7d',
        'app:kpi_work_item_lead_time_seconds:p90_7d',
        'team:kpi_work_item_lead_time_seconds:p90_7d',
        'org:kpi_work_item_lead_time_seconds:p90_7d',
        'app:kpi_work_item_lead_time_seconds:p50_30d',
        'team:kpi_work_item_lead_time_seconds:p50_30d',
        'org:kpi_work_item_lead_time_seconds:p50_30d',
        'app:kpi_work_item_lead_time_seconds:p75_30d',
        'team:kpi_work_item_lead_time_seconds:p75_30d',
        'org:kpi_work_item_lead_time_seconds:p75_30d',
        'app:kpi_work_item_lead_time_seconds:p90_30d',
        'team:kpi_work_item_lead_time_seconds:p90_30d',
        'org:kpi_work_item_lead_time_seconds:p90_30d',
        'app:kpi_work_item_lead_time_seconds:p50_90d',
        'team:kpi_work_item_lead_time_seconds:p50_90d',
        'org:kpi_work_item_lead_time_seconds:p50_90d',
        'app:kpi_work_item_lead_time_seconds:p75_90d',
        'team:kpi_work_item_lead_time_seconds:p75_90d',
        'org:kpi_work_item_lead_time_seconds:p75_90d',
        'app:kpi_work_item_lead_time_seconds:p90_90d',
        'team:kpi_work_item_lead_time_seconds:p90_90d',
        'org:kpi_work_item_lead_time_seconds:p90_90d',
        'app:kpi_work_item_lead_time_by_category_seconds:p50_7d',
        'team:kpi_work_item_lead_time_by_category_seconds:p50_7d',
        'org:kpi_work_item_lead_time_by_category_seconds:p50_7d',
        'app:kpi_work_item_lead_time_by_category_seconds:p75_7d',
        'team:kpi_work_item_lead_time_by_category_seconds:p75_7d',
        'org:kpi_work_item_lead_time_by_category_seconds:p75_7d',
        'app:kpi_work_item_lead_time_by_category_seconds:p90_7d',
        'team:kpi_work_item_lead_time_by_category_seconds:p90_7d',
        'org:kpi_work_item_lead_time_by_category_seconds:p90_7d',
        'app:kpi_work_item_lead_time_by_category_seconds:p50_30d',
        'team:kpi_work_item_lead_time_by_category_seconds:p50_30d',
        'org:kpi_work_item_lead_time_by_category_seconds:p50_30d',
        'app:kpi_work_item_lead_time_by_category_seconds:p75_30d',
        'team:kpi_work_item_lead_time_by_category_seconds:p75_30d',
        'org:kpi_work_item_lead_time_by_category_seconds:p75_30d',
        'app:kpi_work_item_lead_time_by_category_seconds:p90_30d',
        'team:kpi_work_item_lead_time_by_category_seconds:p90_30d',
        'org:kpi_work_item_lead_time_by_category_seconds:p90_30d',
        'app:kpi_work_item_lead_time_by_category_seconds:p50_90d',
        'team:kpi_work_item_lead_time_by_category_seconds:p50_90d',
        'org:kpi_work_item_lead_time_by_category_seconds:p50_90d',
        'app:kpi_work_item_lead_time_by_category_seconds:p75_90d',
        'team:kpi_work_item_lead_time_by_category_seconds:p75_90d',
        'org:kpi_work_item_lead_time_by_category_seconds:p75_90d',
        'app:kpi_work_item_lead_time_by_category_seconds:p90_90d',
        'team:kpi_work_item_lead_time_by_category_seconds:p90_90d',
        'org:kpi_work_item_lead_time_by_category_seconds:p90_90d',
      ],
      title: 'Work item lead time',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'From the creation of a work item to done (median, 75th and 90th percentiles of'
               + ' the items completed in the window, all of them and per investment category).',
      definition: definition,
      group: 'kpi-work-item-lead-time',
      records: records.quantiles('kpi_work_item_lead_time_seconds')
               + records.quantiles('kpi_work_item_lead_time_by_category_seconds', ['category']),
      alerts: [],
    },
    {
      name: 'work_item_time_to_market',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_work_item_time_to_production_seconds:p50_7d',
        'team:kpi_work_item_time_to_production_seconds:p50_7d',
        'org:kpi_work_item_time_to_production_seconds:p50_7d',
        'app:kpi_work_item_time_to_production_seconds:p75_7d',
        'team:kpi_work_item_time_to_production_seconds:p75_7d',
        'org:kpi_work_item_time_to_production_seconds:p75_7d',
        'app:kpi_work_item_time_to_production_seconds:p90_7d',
        'team:kpi_work_item_time_to_production_seconds:p90_7d',
        'org:kpi_work_item_time_to_production_seconds:p90_7d',
        'app:kpi_work_item_time_to_production_seconds:p50_30d',
        'team:kpi_work_item_time_to_production_seconds:p50_30d',
        'org:kpi_work_item_time_to_production_seconds:p50_30d',
        'app:kpi_work_item_time_to_production_seconds:p75_30d',
        'team:kpi_work_item_time_to_production_seconds:p75_30d',
        'org:kpi_work_item_time_to_production_seconds:p75_30d',
        'app:kpi_work_item_time_to_production_seconds:p90_30d',
        'team:kpi_work_item_time_to_production_seconds:p90_30d',
        'org:kpi_work_item_time_to_production_seconds:p90_30d',
        'app:kpi_work_item_time_to_production_seconds:p50_90d',
        'team:kpi_work_item_time_to_production_seconds:p50_90d',
        'org:kpi_work_item_time_to_production_seconds:p50_90d',
        'app:kpi_work_item_time_to_production_seconds:p75_90d',
        'team:kpi_work_item_time_to_production_seconds:p75_90d',
        'org:kpi_work_item_time_to_production_seconds:p75_90d',
        'app:kpi_work_item_time_to_production_seconds:p90_90d',
        'team:kpi_work_item_time_to_production_seconds:p90_90d',
        'org:kpi_work_item_time_to_production_seconds:p90_90d',
        'app:kpi_work_items_delivered:increase_7d',
        'team:kpi_work_items_delivered:increase_7d',
        'org:kpi_work_items_delivered:increase_7d',
        'app:kpi_work_items_delivered:increase_30d',
        'team:kpi_work_items_delivered:increase_30d',
        'org:kpi_work_items_delivered:increase_30d',
        'app:kpi_work_items_delivered:increase_90d',
        'team:kpi_work_items_delivered:increase_90d',
        'org:kpi_work_items_delivered:increase_90d',
      ],
      title: 'Time to market',
      unit: 'seconds',
      grafana_unit: 's',  // for dashboards
      direction: 'lower',
      meaning: 'From the moment the business asked for a work item (created, or its first'
               + ' discovery status) to the first successful production deployment of a change'
               + ' that names it (median, 75th and 90th percentiles of the items delivered in'
               + ' the window), and how many items were delivered.',
      definition: 'definitions.md#time-to-market',
      group: 'kpi-work-item-time-to-market',
      records: records.quantiles('kpi_work_item_time_to_production_seconds')
               + records.counts('kpi_work_items_delivered'),
      alerts: [
        {
          name: 'TimeToMarketRising',
          settings: setting(self.name),
          local medianOf(window) =
            r.name('team', 'kpi_work_item_time_to_production_seconds', 'p50_' + window),
          local baseline = self.settings.baseline,
          local margin = self.settings.margin,
          local min = self.settings.min_items,
          expr: '%s > on (team) %s * %s\nand on (team)\n%s >= %s' % [
            medianOf(long),
            medianOf(baseline),
            p.num(1 + margin),
            r.name('team', 'kpi_work_items_delivered', 'increase_' + long),
            p.num(min),
          ],
          summary: 'Work items take longer to reach customers.',
          description: 'The median work item of team {{ $labels.team }} reached production'
                       + ' {{ $value | humanizeDuration }} after it was asked for, over the'
                       + ' last %s, against {{ with printf "%s{team=%%q}" $labels.team'
                         % [long, medianOf(baseline)]
                       + ' | query }}{{ . | first | value | humanizeDuration }}{{ end }} over'
                       + ' the last %s.' % baseline,
          meaning: 'Time to market, the metric that matters most to the business: how long'
                   + " from 'the business wants this' to 'customers are using it', this month"
                   + ' against the quarter.',
          threshold: 'The median time to market of the items delivered in the last %s more'
                     % long + ' than %s above that of the last %s, once the team delivered at'
                       % [p.percent(margin), baseline]
                     + ' least %s items in the last %s.' % [p.num(min), long],
          next: [
            'Where the time goes before the work starts: the lead time against the cycle time'
            + ' (`team:kpi_work_item_lead_time_seconds:p50_%s`,' % long
            + ' `team:kpi_work_item_cycle_time_seconds:p50_%s`) and the queues' % long
            + ' (`team:kpi_work_items_wait_share:ratio_%s`).' % long,
            'Where it goes after: change lead time and deployment frequency of its apps'
            + ' (`team:kpi_change_lead_time_seconds:p50_%s`).' % long,
          ],
        },
      ],
    },
    {
      name: 'work_item_queues',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_work_items_lead_seconds:increase_7d',
        'team:kpi_work_items_lead_seconds:increase_7d',
        'org:kpi_work_items_lead_seconds:increase_7d',
        'app:kpi_work_items_lead_seconds:increase_30d',
        'team:kpi_work_items_lead_seconds:increase_30d',
        'org:kpi_work_items_lead_seconds:increase_30d',
        'app:kpi_work_items_lead_seconds:increase_90d',
        'team:kpi_work_items_lead_seconds:increase_90d',
        'org:kpi_work_items_lead_seconds:increase_90d',
        'app:kpi_work_items_wait_seconds:increase_7d',
        'team:kpi_work_items_wait_seconds:increase_7d',
        'org:kpi_work_items_wait_seconds:increase_7d',
        'app:kpi_work_items_wait_seconds:increase_30d',
        'team:kpi_work_items_wait_seconds:increase_30d',
        'org:kpi_work_items_wait_seconds:increase_30d',
        'app:kpi_work_items_wait_seconds:increase_90d',
        'team:kpi_work_items_wait_seconds:increase_90d',
        'org:kpi_work_items_wait_seconds:increase_90d',
        'app:kpi_work_items_wait_share:ratio_7d',
        'team:kpi_work_items_wait_share:ratio_7d',
        'org:kpi_work_items_wait_share:ratio_7d',
        'app:kpi_work_items_wait_share:ratio_30d',
        'team:kpi_work_items_wait_share:ratio_30d',
        'org:kpi_work_items_wait_share:ratio_30d',
        'app:kpi_work_items_wait_share:ratio_90d',
        'team:kpi_work_items_wait_share:ratio_90d',
        'org:kpi_work_items_wait_share:ratio_90d',
        'app:kpi_work_items_flow_efficiency:ratio_7d',
        'team:kpi_work_items_flow_efficiency:ratio_7d',
        'org:kpi_work_items_flow_efficiency:ratio_7d',
        'app:kpi_work_items_flow_efficiency:ratio_30d',
        'team:kpi_work_items_flow_efficiency:ratio_30d',
        'org:kpi_work_items_flow_efficiency:ratio_30d',
        'app:kpi_work_items_flow_efficiency:ratio_90d',
        'team:kpi_work_items_flow_efficiency:ratio_90d',
        'org:kpi_work_items_flow_efficiency:ratio_90d',
      ],
      title: 'Queues and flow efficiency',
      unit: 'percentunit',
      grafana_unit: 'percentunit',  // for dashboards
      direction: 'lower',
      meaning: 'The share of the lead time of the work items completed in the window spent in'
               + ' each waiting status (a queue), and flow efficiency: the share spent active.',
      definition: definition,
      group: 'kpi-work-item-queues',
      records: records.counts('kpi_work_items_lead_seconds', ['category'])
               + records.counts('kpi_work_items_wait_seconds', ['status'])
               + share('kpi_work_items_wait_share', 'kpi_work_items_wait_seconds', [],
                       'kpi_work_items_lead_seconds', ['status'])
               + share('kpi_work_items_flow_efficiency', 'kpi_work_items_active_seconds', [],
                       'kpi_work_items_lead_seconds'),
      alerts: [
        {
          name: 'QueueShareRising',
          settings: setting(self.name),
          local shareOf(window) = r.name('team', 'kpi_work_items_wait_share', 'ratio_' + window),
          local margin = p.num(self.settings.margin),
          local min = self.settings.min_items,
          expr: '%s > on (team, status) %s + %s%s' % [
            shareOf(short),
            shareOf(long),
            margin,
            completedAtLeast(short, min),
          ],
          summary: 'Work items wait longer in a queue.',
          description: 'The work items team {{ $labels.team }} completed over the last %s'
                       % short + ' spent {{ $value | humanizePercentage }} of their lead time'
                       + ' in {{ $labels.status }}, against {{ with printf'
                       + ' "%s{team=%%q, status=%%q}" $labels.team $labels.status | query }}'
                         % shareOf(long)
                       + '{{ . | first | value | humanizePercentage }}{{ end }} over the last'
                       + ' %s.' % long,
          meaning: 'The share of the lead time spent waiting in one status, this week against'
                   + ' the long window: queues are where work items lose most of their time.',
          threshold: 'The share of a waiting status in the last %s more than %s above that'
                     % [short, p.percent(self.settings.margin)]
                     + ' of the last %s, once the team completed at least %s items in the'
                       % [long, p.num(min)]
                     + ' last %s.' % short,
          next: [
            'The items waiting in that status now (`team:kpi_work_items_open:sum`): who'
            + ' or what do they wait for?',
            'Flow efficiency of the team (`team:kpi_work_items_flow_efficiency:ratio_%s`).'
            % short,
          ],
        },
      ],
    },
    {
      name: 'work_items_in_progress',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_work_items_in_progress:sum',
        'team:kpi_work_items_in_progress:sum',
        'org:kpi_work_items_in_progress:sum',
        'app:kpi_work_items_open:sum',
        'team:kpi_work_items_open:sum',
        'org:kpi_work_items_open:sum',
        'team:kpi_work_items_in_progress:wip_limit',
      ],
      title: 'Work items in progress and inventory',
      unit: 'items',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Work items in progress now (active at least once, not done) against the'
               + " team's limit, and the items not done per status and stage.",
      definition: definition,
      group: 'kpi-work-items-in-progress',
      records: records.sums('kpi_work_items_in_progress')
               + records.sums('kpi_work_items_open', ['stage', 'status'])
               + [r.record('team:kpi_work_items_in_progress:wip_limit', wipLimit)],
      alerts: [
        {
          name: 'WorkItemsAboveWipLimit',
          settings: setting(self.name),
          expr: 'team:kpi_work_items_in_progress:sum > on (team)'
                + ' team:kpi_work_items_in_progress:wip_limit',
          summary: 'The team has more work items in progress than its WIP limit.',
          description: 'Team {{ $labels.team }} has {{ $value | humanize }} work items in'
                       + ' progress, above its WIP limit of {{ with printf'
                       + ' "team:kpi_work_items_in_progress:wip_limit{team=%q}" $labels.team'
                       + ' | query }}{{ . | first | value }}{{ end }}.',
          meaning: 'Work items started and not done, against the work in progress limit of'
                   + ' the team: the more items in parallel, the longer each one waits.',
          threshold: 'More items in progress than the limit of the team (`work.wip_limits`:'
                     + ' default %s%s).' % [
                       p.num(limits.default),
                       std.join('', [
                         ', %s %s' % [team, p.num(limits.teams[team])]
                         for team in std.objectFields(limits.teams)
                       ]),
                     ],
          next: [
            'The inventory of the team per status (`team:kpi_work_items_open:sum`): finish'
            + ' what waits in review or test before starting more.',
            'Cycle time of the team (`team:kpi_work_item_cycle_time_seconds:p50_%s`).' % long,
          ],
        },
      ],
    },
  ]
