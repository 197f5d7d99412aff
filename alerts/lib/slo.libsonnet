// SLO rules from `slos` and `slo_alerts` of the configuration (Google SRE workbook,
// "Alerting on SLOs": multiwindow, multi-burn-rate alerts), for any SLO window.
//
// Per SLO, with the labels slo, app and team:
//   slo:sli_error:ratio_rate<w>       share of bad requests over each window w
//   slo:burn_rate:ratio_rate<w>       that share / the error budget (1 - objective)
//   slo:objective:ratio               the objective
//   slo:error_budget_remaining:ratio  1 - the burn rate over the SLO window
// and the alert ErrorBudgetBurn: critical for the page windows, warning for the ticket ones.
//
// SLOs kept outside Prometheus (the datadog and azure_monitor sources) get the same records from
// the exporter's gauges (group slo-external): slo:objective:ratio,
// slo:error_budget_remaining:ratio and slo:sli_error:ratio_rate<w> of their window w, with the
// labels slo, app and team; so the SLO dashboard shows them next to these. The components of
// azure_monitor are recorded with the labels component, app, team and window:
//   slo:component_availability:ratio, slo:component_failed_requests:ratio and
//   slo:component_response_time:seconds (label percentile). They have no burn rates (their SLI is known over their
// window only): the alert ErrorBudgetExhausted fires when one's budget left stays at or below
// `external_slo_alert.below`.
local duration = import 'duration.libsonnet';
local p = import 'promql.libsonnet';
local r = import 'rules.libsonnet';

function(config)
  local policies = [config.slo_alerts.page, config.slo_alerts.ticket];
  local summaries = {
    page: 'An SLO burns its error budget fast.',
    ticket: 'An SLO burns its error budget faster than its objective allows.',
  };
  local bySeconds(list) = std.uniq(std.sort(list, duration.seconds), duration.seconds);
  local labels(slo) = { slo: slo.name, app: slo.app, team: slo.team };
  local one(name, slo) = '%s{slo="%s"}' % [name, slo.name];

  // Good and total requests per second over a window, as the SLI type counts them.
  local rates(sli, window) =
    if sli.type == 'availability' then
      ['sum(rate(%s[%s]))' % [sli.good, window], 'sum(rate(%s[%s]))' % [sli.total, window]]
    else if sli.type == 'latency' then
      local fast = p.select(sli.histogram + '_bucket', [sli.selector, 'le="%s"' % sli.le]);
      local all = p.select(sli.histogram + '_count', [sli.selector]);
      ['sum(rate(%s[%s]))' % [fast, window], 'sum(rate(%s[%s]))' % [all, window]]
    else error 'slo sli.type must be availability or latency, not %s' % sli.type;

  // The burn rate a window pair alerts above: the budget share spent in the long window.
  local factor(slo, pair) =
    pair.budget * duration.seconds(slo.window) / duration.seconds(pair.long);

  local alert(slo, name) = {
    local policy = config.slo_alerts[name],
    local objective = p.percent(slo.objective),
    alert: 'ErrorBudgetBurn',
    expr: std.join('\nor\n', [
      '(\n  %s > %s\nand\n  %s > %s\n)' % [
        one('slo:burn_rate:ratio_rate' + pair.long, slo),
        p.num(factor(slo, pair)),
        one('slo:burn_rate:ratio_rate' + pair.short, slo),
        p.num(factor(slo, pair)),
      ]
      for pair in policy.windows
    ]) + '\n',
    'for': policy['for'],
    labels: { severity: policy.severity, slo: slo.name },
    annotations: {
      summary: summaries[name],
      description: 'SLO {{ $labels.slo }} of {{ $labels.app }} (team {{ $labels.team }})'
                   + ' burns its error budget {{ $value | humanize }} times as fast as its'
                   + ' objective of %s over %s allows.' % [objective, slo.window],
      runbook_url: config.runbook_url % 'ErrorBudgetBurn',
      action: policy.action,
    },
  };

  {
    // What the runbook of ErrorBudgetBurn says besides the rules (docs.jsonnet).
    runbook: {
      name: 'ErrorBudgetBurn',
      kpi: 'Service level objectives',
      definition: 'rules.md#service-level-objectives',
      meaning: 'The burn rate of an SLO: how fast it spends its error budget (the share of'
               + ' requests allowed to fail, 1 - objective, over the SLO window). At 1 the'
               + ' budget lasts exactly the window; at 14.4 a 30d budget is gone in about two'
               + ' days. Each window pair alerts only while both its long window (the budget'
               + ' really burns) and its short window (it still burns now) are above the rate.',
      threshold: std.join(' ', [
        '%s (%s): the burn rate over %s and over %s above the rate that spends %s of the'
        % [policy.severity, name, pair.long, pair.short, p.percent(pair.budget)]
        + ' budget in %s.' % pair.long
        for name in ['page', 'ticket']
        for policy in [config.slo_alerts[name]]
        if policy.enabled
        for pair in policy.windows
      ]),
      next: [
        'The SLI of the SLO over the last hours (`slo:sli_error:ratio_rate5m` and'
        + ' `slo:sli_error:ratio_rate1h`): a step at a deployment, a slow climb with traffic?',
        'The error budget left (`slo:error_budget_remaining:ratio`): how much room the team'
        + ' has before the objective is missed.',
        'The last production deployments of the app and its open incidents.',
      ],
    },

    // The records of the SLOs kept outside Prometheus: the exporter's gauges, without the
    // scrape's labels and the window (which the SLI's record name carries).
    local external(family, matchers=[], keep=false) =
      'max without (instance, job%s) (%s)'
      % [if keep then '' else ', window', p.select(family, [config.selectors.exporter] + matchers)],
    local externalGroup = {
      name: 'slo-external',
      rules: [
        r.record('slo:objective:ratio', external('kpi_slo_objective_ratio')),
        r.record(
          'slo:error_budget_remaining:ratio', external('kpi_slo_error_budget_remaining_ratio')
        ),
      ] + [
        r.record(
          'slo:sli_error:ratio_rate' + window,
          '1 - ' + external('kpi_slo_sli_ratio', ['window="%s"' % window]),
        )
        for window in ['7d', '30d', '90d']
      ] + [
        r.record(record, external(family, keep=true))
        for record_family in [
          ['slo:component_availability:ratio', 'kpi_component_availability_ratio'],
          ['slo:component_failed_requests:ratio', 'kpi_component_failed_requests_ratio'],
          ['slo:component_response_time:seconds', 'kpi_component_response_time_seconds'],
        ]
        for record in [record_family[0]]
        for family in [record_family[1]]
      ],
    },

    local exhausted = config.external_slo_alert,
    local externalAlerts = {
      name: 'slo-external-alerts',
      rules: [{
        alert: 'ErrorBudgetExhausted',
        expr: '%s <= %s' % [
          external('kpi_slo_error_budget_remaining_ratio'),
          p.num(exhausted.below),
        ],
        'for': exhausted['for'],
        labels: { severity: exhausted.severity },
        annotations: {
          summary: 'An SLO kept outside Prometheus has spent its error budget.',
          description: 'SLO {{ $labels.slo }} of {{ $labels.app }} (team {{ $labels.team }})'
                       + ' has {{ $value | humanizePercentage }} of its error budget left over'
                       + ' its window.',
          runbook_url: config.runbook_url % 'ErrorBudgetExhausted',
          action: exhausted.action,
        },
      }],
    },

    // What the runbook of ErrorBudgetExhausted says besides the rule (docs.jsonnet).
    externalRunbook: {
      name: 'ErrorBudgetExhausted',
      kpi: 'Service level objectives',
      definition: 'rules.md#service-level-objectives',
      meaning: 'An SLO kept outside Prometheus (Datadog or Application Insights, read by the'
               + ' datadog and azure_monitor sources): the share'
               + ' of its error budget left over its window, 1 - (1 - SLI) / (1 - objective).'
               + ' At 0 the window had exactly as many bad events as the objective allows;'
               + ' below 0 the objective is missed.',
      threshold: 'The budget left at or below %s for %s (%s).'
                 % [p.num(exhausted.below), exhausted['for'], exhausted.severity],
      next: [
        'The SLO in Datadog (its history over the window, when the budget started to fall), or'
        + ' the component in Application Insights (its failed requests and slow ones, and'
        + ' `slo:component_failed_requests:ratio` and `slo:component_response_time:seconds`).',
        'The SLI over the window (`slo:sli_error:ratio_rate30d` for a 30d SLO) next to the'
        + ' objective (`slo:objective:ratio`).',
        'The last production deployments of the app and its incidents in the window.',
      ],
    },

    groups: [externalGroup] + (if exhausted.enabled then [externalAlerts] else [])
            + std.flattenArrays([
      local windows = bySeconds(
        [pair.long for policy in policies for pair in policy.windows]
        + [pair.short for policy in policies for pair in policy.windows]
        + [slo.window]
      );
      [
        {
          name: 'slo-%s' % slo.name,
          rules: [
            r.record(
              'slo:sli_error:ratio_rate' + window,
              '1 - %s / %s' % rates(slo.sli, window),
              labels(slo),
            )
            for window in windows
          ] + [
            r.record(
              'slo:burn_rate:ratio_rate' + window,
              '%s / %s' % [one('slo:sli_error:ratio_rate' + window, slo), p.num(1 - slo.objective)],
              labels(slo),
            )
            for window in windows
          ] + [
            r.record('slo:objective:ratio', 'vector(%s)' % p.num(slo.objective), labels(slo)),
            r.record(
              'slo:error_budget_remaining:ratio',
              '1 - %s' % one('slo:burn_rate:ratio_rate' + slo.window, slo),
              labels(slo),
            ),
          ],
        },
        {
          name: 'slo-%s-alerts' % slo.name,
          rules: [
            alert(slo, name)
            for name in ['page', 'ticket']
            if config.slo_alerts[name].enabled
          ],
        },
      ]
      for slo in config.slos
    ]),
  }
