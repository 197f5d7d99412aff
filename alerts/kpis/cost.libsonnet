// Cost KPIs: spend month to date, its month-end forecast and yesterday's spend per app, team
// and organisation, each per currency (never summed across currencies); forecast and month to
// date over the monthly budgets of apps and teams; cost per unit of your own traffic or
// business series (`cost_per_unit`). Definitions: docs/definitions.md#cost.
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local definition = 'definitions.md#cost';
  // Spend keeps its currency at every level.
  local withCurrency(level) = level.labels + ['currency'];
  local spend(level, family) = r.name(level.name, family, 'sum');
  // The budget levels: an app budget has the team label empty, a team budget the app label,
  // so each is selected by its own non-empty owner and joined on (owner, currency).
  local budgetLevels = [
    { name: 'app', owner: 'app', matchers: ['app!=""'] },
    { name: 'team', owner: 'team', matchers: ['app=""', 'team!=""'] },
  ];
  local budget(level) = r.name(level, 'kpi_cost_budget_month', 'sum');
  local perBudget(level, what) = r.name(level, what + '_per_budget', 'ratio');
  // "<owner> of app X (team Y)" or "team Y", whichever level the alert fired at.
  local owner = '{{ if $labels.app }}app {{ $labels.app }} (team {{ $labels.team }}){{ else }}'
                + 'team {{ $labels.team }}{{ end }}';
  local overBudget(name, what, summary, text, next) = {
    name: name,
    settings: setting(name),
    local threshold = p.num(self.settings.threshold),
    expr: '%s > %s\nor\n%s > %s' % [
      perBudget('app', what),
      threshold,
      perBudget('team', what),
      threshold,
    ],
    summary: summary,
    description: 'The %s of %s is {{ $value | humanizePercentage }} of its monthly'
                 % [text, owner] + ' {{ $labels.currency }} budget; the limit is %s.'
                 % p.percent(self.settings.threshold),
    meaning: 'The %s of an app or a team over its monthly budget in the same currency' % text
             + ' (`budgets` of the exporter configuration; an app budget is compared with the'
             + ' spend of the app, a team budget with the spend of all apps of the team).',
    threshold: 'The %s above %s of the monthly budget.' % [text, p.percent(self.settings.threshold)],
    next: next,
  };
  local units = config.cost_per_unit;

  [
    {
      name: 'spend',
      title: 'Spend',
      unit: 'currency',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Cloud and Kubernetes spend of the current UTC month so far, its month-end'
               + ' forecast and the spend of yesterday, per currency (never summed across'
               + ' currencies), with the monthly budgets of apps and teams and the forecast'
               + ' and month to date over them.',
      definition: definition,
      group: 'kpi-cost',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_cost_month_to_date:sum',
        'team:kpi_cost_month_to_date:sum',
        'org:kpi_cost_month_to_date:sum',
        'app:kpi_cost_forecast_month_end:sum',
        'team:kpi_cost_forecast_month_end:sum',
        'org:kpi_cost_forecast_month_end:sum',
        'app:kpi_cost_last_day:sum',
        'team:kpi_cost_last_day:sum',
        'org:kpi_cost_last_day:sum',
        'app:kpi_cost_month_to_date_by_provider:sum',
        'team:kpi_cost_month_to_date_by_provider:sum',
        'org:kpi_cost_month_to_date_by_provider:sum',
        'app:kpi_cost_budget_month:sum',
        'team:kpi_cost_budget_month:sum',
        'app:kpi_cost_forecast_per_budget:ratio',
        'team:kpi_cost_forecast_per_budget:ratio',
        'app:kpi_cost_month_to_date_per_budget:ratio',
        'team:kpi_cost_month_to_date_per_budget:ratio',
        'app:kpi_cost_forecast_per_budget:max',
        'team:kpi_cost_forecast_per_budget:max',
        'org:kpi_cost_forecast_per_budget:max',
        'app:kpi_cost_month_to_date_per_budget:max',
        'team:kpi_cost_month_to_date_per_budget:max',
        'org:kpi_cost_month_to_date_per_budget:max',
      ],
      records: std.flattenArrays([
                 r.perLevel(function(level) r.record(
                   spend(level, family),
                   p.sum(withCurrency(level), records.exporter(family)),
                 ))
                 for family in [
                   'kpi_cost_month_to_date',
                   'kpi_cost_forecast_month_end',
                   'kpi_cost_last_day',
                 ]
               ])
               // Month to date per provider too, for the dashboards' spend by provider.
               + r.perLevel(function(level) r.record(
                 spend(level, 'kpi_cost_month_to_date_by_provider'),
                 p.sum(withCurrency(level) + ['provider'], records.exporter('kpi_cost_month_to_date')),
               ))
               // The budgets and the spend over them, in a group of their own (after the
               // spend's: they read it one evaluation later).
               + [rule { group:: 'kpi-cost-budgets' } for rule in [
                 r.record(
                   budget(level.name),
                   p.sum([level.owner, 'currency'],
                         records.exporter('kpi_cost_budget_month', level.matchers)),
                 )
                 for level in budgetLevels
               ] + [
                 r.record(
                   perBudget(level.name, what),
                   spend(level, what + (if what == 'kpi_cost_forecast' then '_month_end' else ''))
                   + ' / on (%s, currency) group_left () (%s > 0)' % [level.owner,
                                                                      budget(level.name)],
                 )
                 for what in ['kpi_cost_forecast', 'kpi_cost_month_to_date']
                 for level in budgetLevels
               ]
               // The highest of those ratios at every level, over the app and team budgets
               // under it (currencies are not added up, so any currency): what the
               // dashboards show for a selection of teams or the organisation, without
               // reading every app's series.
               + std.flattenArrays([
                 local highest(level) = r.name(level, what + '_per_budget', 'max');
                 [
                   r.record(highest('app'), 'max by (app, team) (%s)' % perBudget('app', what)),
                   r.record(highest('team'), 'max by (team) (%s or %s)'
                                             % [perBudget('app', what), perBudget('team', what)]),
                   r.record(highest('org'), 'max(%s)' % highest('team')),
                 ]
                 for what in ['kpi_cost_forecast', 'kpi_cost_month_to_date']
               ])],
      alerts: [
        overBudget(
          'SpendForecastOverBudget',
          'kpi_cost_forecast',
          'The month-end spend forecast is over budget.',
          'month-end spend forecast',
          [
            'Spend by provider of the app or team (`kpi_cost_month_to_date`) and the daily'
            + ' spend (`app:kpi_cost_last_day:sum`): a jump on one day, or steady growth?',
            'The forecast is month to date + the average of the last 7 complete days x the'
            + ' days left: one expensive day early in the month weighs on it for a week.',
            'Cost per unit (`app:kpi_cost_per_unit:ratio`): does spend follow the users?',
          ],
        ),
        overBudget(
          'SpendOverBudget',
          'kpi_cost_month_to_date',
          'The month-to-date spend is over budget.',
          'month-to-date spend',
          [
            'Spend by provider of the app or team (`kpi_cost_month_to_date`) and the daily'
            + ' spend (`app:kpi_cost_last_day:sum`).',
            'The budget itself (`kpi_cost_budget_month`): still right for this month?',
          ],
        ),
      ],
    },
    {
      name: 'cost_per_unit',
      title: 'Cost per unit',
      unit: 'currency per unit',
      grafana_unit: 'short',  // for dashboards
      direction: 'lower',
      meaning: 'Spend of an app or team over a traffic or business series of your own'
               + ' (`cost_per_unit`: requests, active users), per currency: whether costs'
               + ' scale with the use of the service. Units: %s.'
               % std.join(', ', [unit.name for unit in units]),
      definition: definition,
      group: 'kpi-cost-per-unit',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'app:kpi_cost_per_unit:ratio',
        'team:kpi_cost_per_unit:ratio',
      ],
      records: [
        assert std.member(['app', 'team'], unit.per) :
               'cost_per_unit %s: per must be app or team' % unit.name;
        assert std.member(['month_to_date', 'last_day'], unit.spend) :
               'cost_per_unit %s: spend must be month_to_date or last_day' % unit.name;
        r.record(
          r.name(unit.per, 'kpi_cost_per_unit', 'ratio'),
          '%s / on (%s) group_left () (sum by (%s) (%s) > 0)' % [
            r.name(unit.per, 'kpi_cost_' + unit.spend, 'sum'),
            unit.per,
            unit.per,
            unit.series,
          ],
          { unit: unit.name, spend: unit.spend },
        )
        for unit in units
      ] + [
        // Per-app units also per team: the team's spend over the team's units, both over
        // its apps with a cost per unit (an app's units are its spend / its cost per unit).
        local ratio = '(%s{unit="%s"} > 0)' % [r.name('app', 'kpi_cost_per_unit', 'ratio'), unit.name];
        local spend = r.name('app', 'kpi_cost_' + unit.spend, 'sum');
        r.record(
          r.name('team', 'kpi_cost_per_unit', 'ratio'),
          'sum by (team, currency) (%s and on (app, team, currency) %s)\n' % [spend, ratio]
          + '/\nsum by (team, currency) (%s / on (app, team, currency) %s)' % [spend, ratio],
          { unit: unit.name, spend: unit.spend },
        )
        for unit in units
        if unit.per == 'app'
      ],
      alerts: [],
    },
  ]
