// The one configuration of kpi-exporter's recording rules, alerts, SLOs, runbooks and
// dashboards (the `_config` of a monitoring mixin).
//
// Every selector, window and threshold lives here, each threshold next to the action it calls
// for; nothing else under alerts/ or dashboards/ holds a number. To change values without
// editing this file, write a thresholds file (YAML or JSON) with the same shape holding only
// what differs, and render with `kpi-exporter render --thresholds FILE`: it is merged over
// this object as a JSON merge patch (objects merge key by key, lists and values replace).
//
// Thresholds: ratios are 0..1; times are durations ('1h', '30m') or seconds.
// Severities: critical pages someone, warning opens a ticket, info is not routed (dashboards
// and the Alertmanager UI only). Set `enabled: false` to leave an alert out.
{
  // Label matchers added to every exporter metric a rule reads.
  selectors: {
    // The scrape job of the exporter (the Helm chart's ServiceMonitor keeps this job name).
    exporter: 'job="kpi-exporter"',
  },
  // Which incidents count (production environments only, by default) is the exporter's
  // choice now (its configuration): it computes the windows, and a window gauge has no
  // incident label left to select on.

  // Windows of the KPI recording rules. The exporter computes each window of `all` itself,
  // by event time (its `windows.durations`; the label value `window="30d"` is the duration
  // exactly as written, so both must list the same texts), and the rules record every one
  // of them. The alerts read the short one ("this week") or the long one (the DORA window).
  // The rules read the latest samples: Prometheus needs the long window of retention only
  // for the critical findings' time to fix (an exact difference over it) and the SLOs.
  windows: { short: '7d', long: '30d', all: ['7d', '30d', '90d'] },
  // Quantiles recorded for every duration and size: the median, the 75th percentile many
  // leaders use, and the 90th (the exporter's `windows.quantiles`, the same values).
  quantiles: [0.5, 0.75, 0.9],
  // Evaluation interval of the KPI recording rule groups (null: Prometheus' global one). Their
  // windows are days long and the exporter recomputes them on a timer, so every 4 minutes
  // is plenty. What a dashboard costs is the samples its panels read: a 30-day panel per team
  // reads 10,800 samples per series at 4m, 21,600 at 2m, 43,200 at 1m, and at 500 apps in 50
  // teams only 4m keeps every dashboard under 1 s (benchmarks/dashboards.py). Keep it below
  // Prometheus' lookback delta (5m by default) by more than the slowest group's evaluation
  // (about 1 s at 500 apps): a recorded series then always has a sample within the lookback.
  // An evaluation skipped (one that took longer than the interval) leaves a gap, and an
  // alert pending on that record starts its `for` again; at 2m, a gap needs an evaluation of
  // over 3 minutes.
  rule_interval: '4m',

  // Where an alert's runbook is: %s is the alert name. The files are docs/runbooks/*.md.
  runbook_url: 'https://github.com/kpi-exporter/kpi-exporter/blob/main/docs/runbooks/%s.md',

  // DORA performance tiers, as the State of DevOps reports publish them. The recording rules
  // turn each metric into a tier over the long window: 0 elite, 1 high, 2 medium, 3 low.
  // A value's tier is the number of tier limits it misses, so each limit is the worst value
  // of its tier (the best for deployment frequency). The reports publish cluster values, not
  // limits, and they are not always ordered (2024 change failure rate: high 20 %, medium 10 %);
  // counting missed limits amounts to sorting them.
  dora_report: '2024',
  dora: {
    '2023': {
      deployment_frequency: {
        limits: { elite: 1, high: 1 / 7, medium: 1 / 30 },  // deployments per day, at least
        published: {
          elite: 'On demand',
          high: 'Between once per day and once per week',
          medium: 'Between once per week and once per month',
          low: 'Between once per week and once per month',
        },
      },
      change_lead_time: {
        limits: { elite: '1d', high: '7d', medium: '30d' },  // median, at most
        published: {
          elite: 'Less than one day',
          high: 'Between one day and one week',
          medium: 'Between one week and one month',
          low: 'Between one week and one month',
        },
      },
      change_failure_rate: {
        limits: { elite: 0.05, high: 0.10, medium: 0.15 },  // at most
        published: { elite: '5%', high: '10%', medium: '15%', low: '64%' },
      },
      failed_deployment_recovery_time: {
        limits: { elite: '1h', high: '1d', medium: '7d' },  // median, at most
        published: {
          elite: 'Less than one hour',
          high: 'Less than one day',
          medium: 'Between one day and one week',
          low: 'Between one month and six months',
        },
      },
    },
    '2024': {
      deployment_frequency: {
        limits: { elite: 1, high: 1 / 7, medium: 1 / 30 },
        published: {
          elite: 'On demand (multiple deploys per day)',
          high: 'Between once per day and once per week',
          medium: 'Between once per week and once per month',
          low: 'Between once per month and once every six months',
        },
      },
      change_lead_time: {
        limits: { elite: '1d', high: '7d', medium: '30d' },
        published: {
          elite: 'Less than one day',
          high: 'Between one day and one week',
          medium: 'Between one week and one month',
          low: 'Between one month and six months',
        },
      },
      change_failure_rate: {
        limits: { elite: 0.05, high: 0.20, medium: 0.10 },
        published: { elite: '5%', high: '20%', medium: '10%', low: '40%' },
      },
      failed_deployment_recovery_time: {
        limits: { elite: '1h', high: '1d', medium: '1d' },
        published: {
          elite: 'Less than one hour',
          high: 'Less than one day',
          medium: 'Less than one day',
          low: 'Between one week and one month',
        },
      },
    },
  },

  // Work in progress limits: open changes per team. Teams not listed get the default.
  wip_limits: { default: 10, teams: {} },

  // Where changes come from (origin: human, ai_agent, bot): every record split by origin is
  // withheld for a team (and its apps) that merged fewer changes than this in the window, every
  // origin together, and for the organisation likewise: in a small team an origin's share
  // points at a few people.
  origins: { min_changes: 10 },
  // Engineers per team, for merged changes per engineer per week
  // (`team:kpi_changes_merged:per_engineer_per_week_<window>`; the seeds' 3 to 5): only the
  // teams listed get one. A team's size, never a person: the exporter knows none.
  team_sizes: {},

  // Work items of the issue trackers: the limit of items in progress per team (teams not
  // listed get the default), and the investment category that is technical debt (the
  // categories are the exporter's, per source: `work.categories`).
  work: {
    wip_limits: { default: 5, teams: {} },
    debt_category: 'tech_debt',
  },

  // Every KPI and exporter alert: severity, `for`, threshold, the window of the KPI it reads
  // ('short' or 'long' above) and the action the owner takes when it fires.
  alerts: {
    // Delivery (DORA)
    ChangeFailureRateHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.15,
      // Production deployments in the window before the rate counts. Under 5, one failed
      // deployment is already 20 % or more (1 of 2 in a quiet week is 50 %): a ticket about
      // chance, not a trend. At 5 or more, the rate is worth a review.
      min_deployments: 5,
      window: 'short',
      action: 'Review each failed deployment with the team and add the automated test that'
              + ' would have caught it. Work in smaller batches and deploy more often, so a'
              + ' failure is easy to pin point, and make rollback automatic when metric'
              + ' thresholds are crossed.',
    },
    ReworkRateHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.10,
      min_deployments: 5,  // deployments in the window first, as for ChangeFailureRateHigh
      window: 'short',
      action: 'Releases need hotfixes, rollbacks or fixes after incidents: the quality gates'
              + ' before production are not catching the defects that matter. Find where each one should have been'
              + ' caught (requirements, unit, integration, staging) and invest in that gate.',
    },
    ChangeLeadTimeHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: '1d',
      window: 'short',
      action: 'Find where changes wait (coding, pickup, review or deploy stage): time idly'
              + ' sitting in a queue is waste to eliminate. Review pull requests the same day,'
              + ' limit work in progress and automate the path to production.',
    },
    DeploymentRecoveryTimeHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: '1h',
      window: 'short',
      action: 'Make recovery one automated step: roll back first and investigate after, and'
              + ' use feature flags and progressive rollout so a failed change can be turned'
              + ' off without a new deployment.',
    },
    ProductionDeploysStalled: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      window: 'short',  // no production deployment in this window while changes were merged
      action: 'Deploy what is merged: find what holds changes back from production (a manual'
              + ' approval, a broken pipeline, a release calendar) and remove it. Aim for'
              + ' on-demand deployments, several a day, repeatable and automated.',
    },

    // Incidents
    IncidentOpenTooLong: {
      enabled: true,
      severity: 'critical',
      'for': '5m',
      threshold: '1h',  // age of the oldest open incident
      action: 'Restore service before looking for the cause: roll back the last deployment or'
              + ' turn the feature off, and escalate to the incident commander. The target'
              + ' time to restore is under one hour.',
    },
    TimeToRestoreHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: '1h',
      window: 'short',
      action: 'Long time to restore is often a symptom of poor observability, complex'
              + ' deployment pipelines, or too little feature flagging and progressive'
              + ' rollout. Review the slowest incidents and fix what slowed detection,'
              + ' diagnosis or rollback.',
    },
    TimeToDetectHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: '30m',
      window: 'short',
      action: 'Defects impact users too long before anyone knows: alert on user-facing'
              + ' symptoms of the critical paths (synthetic transactions, real-user'
              + ' monitoring), and remove the low-signal, high-noise alerts that teach people'
              + ' to ignore pages.',
    },
    TimeToAcknowledgeHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: '15m',
      window: 'short',
      action: 'Check that pages reach the on-call (routing, escalation policy, contact'
              + ' details) and that the rotation is staffed; alert fatigue from noisy alerts'
              + ' also delays acknowledgement.',
    },

    IncidentsUnlinkedHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 0.5,  // share of the window's production incidents linked to no deployment
      min_incidents: 5,  // production incidents in the window before the share counts
      window: 'long',
      action: 'The exporter could not tie these incidents to a deployment, so the change'
              + ' failure rate misses them: reference the deployment, commit or pull request'
              + ' in the incident (a field or a link the source reports), or check that the'
              + ' production deployments of the app reach the exporter.',
    },

    // Flow
    WorkInProgressAboveLimit: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      // The limits are `wip_limits` above.
      action: 'Stop starting, start finishing: the team pulls new work only as it has'
              + ' capacity. Review and merge, or close, open changes before opening new ones,'
              + ' and agree the limit with the team.',
    },
    WorkItemsAboveWipLimit: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      // The limits are `work.wip_limits` above.
      action: 'Stop starting, start finishing: pull a new work item only when one is done;'
              + ' swarm on what waits in review or test, and agree the limit with the team.',
    },
    WorkItemCycleTimeHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: '5d',  // the seeds' target: 2 to 5 days from work started to delivered
      window: 'long',
      action: 'Slice the work smaller and limit work in progress; find the queue the items'
              + ' wait in longest and remove the hand-off or the approval behind it.',
    },
    TechDebtShareHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 0.25,  // share of the active time of completed items; the seeds: under 25 %
      min_items: 5,  // work items the team completed in the window before the share counts
      window: 'long',
      action: 'Agree with the product owner on a debt budget and pay the debt that slows'
              + ' delivery most first; if the debt keeps growing, look for its source (missing'
              + ' tests, a fragile component, deadlines that skip the clean-up).',
    },
    TimeToMarketRising: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      margin: 0.2,  // the long window's median more than 20 % above the baseline's
      baseline: '90d',  // a window of windows.all, longer than the long one
      min_items: 5,  // work items the team delivered in the long window
      action: 'Find where the items wait before anyone starts them (discovery, backlog,'
              + ' approvals) and after they are done (release trains, manual deployments):'
              + ' shorten that wait before speeding up the work itself, and ship smaller'
              + ' slices of each item.',
    },
    QueueShareRising: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      margin: 0.1,  // the short window's share above the long window's by more than this
      min_items: 3,  // work items the team completed in the short window
      action: 'Look at what the items in that status wait for (a reviewer, a test'
              + ' environment, a decision) and remove the wait: fewer hand-offs, a WIP limit'
              + ' on the status, or the people to work it.',
    },
    SecurityCoverageLow: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.8,  // seed 002: security test coverage above 80 %
      action: 'Enable code scanning (default setup) and secret scanning on the repositories'
              + ' without them, at the organisation level where possible so that new'
              + ' repositories start covered, and treat a repository without them as not ready'
              + ' for production.',
    },
    DependencyUpdatesStale: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 0.2,  // seed 002: dependency age, under 20 %
      age: '14d',  // one of the ages the exporter counts: 1h, 1d, 3d, 7d, 14d, 30d
      action: 'Merge or close the old dependency update pull requests in the team\'s next'
              + ' working day, group minor updates so that they are cheap to review, and fix'
              + ' the failing checks that keep them open.',
    },
    ChangesOpenTooLong: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: '7d',  // one of the ages the exporter counts: 1h, 1d, 3d, 7d, 14d, 30d
      action: 'Work idle in a queue is the biggest point of failure to deliver: review and'
              + ' merge, or close, the old open changes, and find what they are waiting for.',
    },
    ChangePickupTimeHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: '4h',
      window: 'short',
      action: 'Changes wait for a first review: make reviewing open pull requests the first'
              + ' thing people do, and keep changes small enough to review in one sitting, so'
              + ' they are reviewed and merged the day they are opened.',
    },
    ChangeSizeLarge: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 500,  // lines, median
      window: 'short',
      action: 'Keep most pull requests under 500 lines all-in (ideally under 200): split large'
              + ' changes and ship them behind feature flags, so reviewers stay focused and'
              + ' changes merge the day they are opened.',
    },
    UnreviewedMergesHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 0.05,
      window: 'short',
      action: 'Require a review by someone other than the author before a merge (branch'
              + ' protection), and check which merges bypassed it (administrators, hotfixes).',
    },

    // Where changes come from: AI agents' changes against the team's own
    AiAgentChangesUnreviewed: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.0,  // every AI agent's change reviewed by a person
      min_changes: 5,  // AI-agent changes in the window before the share counts
      window: 'long',
      action: "Require a person's review of every AI agent's change (branch protection: the"
              + ' agent cannot approve or merge its own change; a bot review does not count),'
              + ' and review the changes of the window that went in without one.',
    },
    AiAgentRevertRateHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      margin: 0.05,  // above the team's human revert rate
      min_changes: 5,  // AI-agent changes in the window before the rate counts
      window: 'long',
      action: "Review the team's reverted AI-agent changes: narrow the tasks given to the"
              + ' agents to those they did well, and require a review by someone who knows'
              + ' the code before a merge.',
    },

    // Quality: defects, releases, tests and coverage
    DefectEscapeRateHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.10,  // share of the window's defects found in production
      min_defects: 5,  // defects in the window before the rate counts
      window: 'long',
      action: 'The safety net has holes: for each escaped defect of the window, find the'
              + ' earliest check that should have caught it (requirements, unit, integration,'
              + ' exploratory testing, staging) and add that test. Shift testing left, and aim'
              + ' for zero critical escapes before zero defects.',
    },
    DefectRateHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 0.15,  // defects per merged change; the seeds: 0 to 15 %
      min_changes: 10,  // changes the app merged in the window before the rate counts
      window: 'long',
      action: 'Look at where the defects come from: large or unreviewed changes, a component'
              + ' without tests, rushed releases. Smaller changes, reviews and tests where the'
              + ' defects cluster bring the rate down.',
    },
    DefectEscapeRateRising: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      margin: 0.05,  // the short-window rate above the long-window rate by this much
      min_defects: 5,  // defects in the short window before the rate counts
      action: 'A rising escape rate while delivery speeds up accrues technical debt that will'
              + ' freeze the roadmap: review this week\'s escaped defects with the team before'
              + ' it becomes a trend, and put the missing tests before new features.',
    },
    ReleaseFailureRateHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.10,
      min_deployments: 5,  // deployments in the window first, as for ChangeFailureRateHigh
      window: 'short',
      action: 'Releases need a rollback or a hotfix: review each one with the team, add the'
              + ' regression test that would have stopped it, and make the pre-production'
              + ' checks of the critical user journeys (checkout, login, data ingestion) a'
              + ' gate of the release.',
    },
    FlakyTestsHigh: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.02,  // share of the test cases run that were flaky
      window: 'short',
      action: 'A flaky suite is one engineers learn to ignore: quarantine the flaky tests,'
              + ' fix or delete them (waits on time, shared state, test order), and prefer a'
              + ' smaller, stable suite of the tests that matter over a large, flaky one.',
    },
    CoverageLowWhereIncidents: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 0.60,  // line coverage of the component, at least
      min_incidents: 1,  // incidents of the component in the long window
      action: 'Coverage matters where things break: add automated tests to the critical paths'
              + ' of this component, starting with the failures of its incidents, rather'
              + ' than raising coverage where nothing fails.',
    },

    // Security findings. The SLAs themselves (default critical 7 days, high 30 days) are the
    // exporter's `security.sla`: `kpi_vulnerabilities_sla_breached` counts the open findings
    // past them. A critical finding past its SLA opens a ticket by default; set `severity:
    // 'critical'` here to page for it instead.
    CriticalVulnerabilityPastSla: {
      enabled: true,
      severity: 'warning',
      'for': '15m',
      threshold: 0,  // critical findings open past their SLA, more than this
      action: 'Patch now: upgrade the affected dependency or image, rotate the leaked secret,'
              + ' or mitigate (turn the feature off, block the path) until a fix ships; the'
              + ' target is zero critical findings and any new one patched within days. A false'
              + ' positive or an accepted risk is dismissed in the scanner with its reason, so'
              + ' it stops counting.',
    },
    HighVulnerabilityPastSla: {
      enabled: true,
      severity: 'warning',
      'for': '15m',
      threshold: 0,  // high findings open past their SLA, more than this
      action: 'Plan the fix of the overdue high findings into the current sprint: upgrade the'
              + ' dependency or base image (one upgrade often closes several findings), and'
              + ' keep fewer than 5 high findings open; dismiss false positives with a reason.',
    },
    VulnerabilityFixTimeHigh: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: '7d',  // median time to fix of the critical findings fixed in the long window
      action: 'Critical findings take too long to patch: automate dependency updates'
              + ' (Dependabot, Renovate) with tests that let them merge the same day, rebuild'
              + ' images on a schedule, and route new critical findings to the owning team the'
              + ' day they are reported. The target is under 7 days.',
    },

    // Cost: spend against the monthly budgets (`kpi_cost_budget_month`) of apps and teams.
    SpendForecastOverBudget: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 1.10,  // forecast month-end spend over the budget, more than this ratio
      action: 'Find what drives the spend (provider and service in the cost data: a new'
              + ' resource, a traffic spike, idle or oversized resources, a lapsed discount),'
              + ' then cut it (rightsize, stop idle resources, delete unused storage) or agree'
              + ' a new budget with finance before the month ends. Spend should stay within'
              + ' 10% of the budget and the cost per request trend down.',
    },
    SpendOverBudget: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      threshold: 1,  // month-to-date spend over the budget, more than this ratio
      action: 'The monthly budget is spent: stop or scale down what is not needed until the'
              + ' month ends, and review with finance whether the budget or the architecture'
              + ' must change. Compare spend with traffic (cost per request, per active user):'
              + ' growth that follows users is not waste.',
    },

    // Business: developer surveys.
    DeveloperSatisfactionLow: {
      enabled: true,
      severity: 'info',
      'for': '1h',
      threshold: 0.5,  // NPS ratio (-1..1) of an NPS question, at least (NPS 50)
      min_responses: 5,  // answers before the score counts
      action: 'Ask the team what holds them back (the lowest-scored questions and the'
              + ' comments of the survey), pick one or two problems of the platform or the'
              + ' process, fix them and tell the team; survey again to see whether it helped.',
    },

    // The exporter itself
    KpiExporterSourceDown: {
      enabled: true,
      severity: 'warning',
      'for': '15m',
      action: "Read the exporter log for the source's last error (credentials, permissions,"
              + ' rate limit, network, API change) and run `kpi-exporter check-config`. The'
              + " source's metrics keep their last good values meanwhile.",
    },
    KpiExporterDataStale: {
      enabled: true,
      severity: 'warning',
      'for': '5m',
      threshold: '1h',  // since the last successful poll
      action: 'Check the exporter log for a poll that hangs or keeps failing, and the status'
              + " of the source's API. Dashboards show old numbers until a poll succeeds.",
    },
    KpiExporterRateLimitLow: {
      enabled: true,
      severity: 'warning',
      'for': '15m',
      threshold: 100,  // requests left in the rate-limit window
      action: 'Polls will soon wait for the rate limit to reset: poll less often (the'
              + " source's `interval`), narrow the source to the repositories that matter, or"
              + ' give the exporter a token or app of its own.',
    },
    KpiExporterAbsent: {
      enabled: true,
      severity: 'warning',
      'for': '15m',
      action: 'Check that the exporter process or pod runs, that Prometheus scrapes it with'
              + ' the job name of `selectors.exporter`, and the network path between them.',
    },
    KpiExporterNoEvents: {
      enabled: true,
      severity: 'warning',
      'for': '1h',
      action: 'Check that the configured sources point at the right repositories, projects'
              + ' or files (`kpi-exporter check-config`), and read the exporter log for what'
              + ' each poll found.',
    },
    KpiExporterEventsRejected: {
      enabled: true,
      severity: 'info',
      'for': '0s',
      over: '1h',  // rejections counted over this window
      action: 'Fix what writes the rejected records: the exporter log names the file, line'
              + ' and field of each one (reason invalid), or the new app, team or environment'
              + ' over its limit (reason cardinality: raise label_limits only if the values are'
              + ' real). The other records still count.',
    },
  },

  // Cost per unit of your own traffic or business series (like the SLO inputs, the series
  // are yours): spend (`month_to_date` or `last_day`) of each app or team and currency over
  // `series`, summed by `per` (`app` or `team`), recorded as
  // `<per>:kpi_cost_per_unit:ratio{unit="<name>"}`. E.g. cost per request:
  // {name: 'request', per: 'app', spend: 'last_day',
  //  series: 'sum by (app) (increase(http_requests_total[1d]))'}.
  cost_per_unit: [
    {
      name: 'active_user',
      per: 'app',
      spend: 'month_to_date',
      series: 'kpi_business_value{job="kpi-exporter", metric="active_users"}',
    },
  ],

  // Multi-window, multi-burn-rate SLO alerts (Google SRE workbook, chapter 5). Each window
  // pair fires when both windows burn faster than `budget` (the share of the SLO window's
  // error budget) spent in the long window; for a 30d SLO that is 14.4x (1h, 5m), 6x (6h,
  // 30m), 3x (1d, 2h) and 1x (3d, 6h).
  slo_alerts: {
    page: {
      enabled: true,
      severity: 'critical',
      'for': '2m',
      windows: [
        { long: '1h', short: '5m', budget: 0.02 },
        { long: '6h', short: '30m', budget: 0.05 },
      ],
      action: 'Find what changed (the last deployment, a dependency, a traffic spike) and'
              + ' mitigate now: roll back, or shed load. At this rate the error budget is gone'
              + ' within days.',
    },
    ticket: {
      enabled: true,
      severity: 'warning',
      'for': '15m',
      windows: [
        { long: '1d', short: '2h', budget: 0.10 },
        { long: '3d', short: '6h', budget: 0.10 },
      ],
      action: 'The error budget burns faster than the objective allows: investigate the'
              + ' gradual degradation (it may never cross an incident threshold) and put'
              + ' reliability work before features until the burn rate is back under 1.',
    },
  },

  // SLOs kept outside Prometheus (the datadog and azure_monitor sources) have no burn rates: they alert when the
  // share of their error budget left over their window falls to `below` (0: the objective is
  // missed over the window) and stays there `for`.
  external_slo_alert: {
    enabled: true,
    severity: 'warning',
    'for': '30m',
    below: 0,
    action: 'The objective is missed over the SLO window: find what spent the budget (an'
            + ' incident, a deployment, a dependency), and put reliability work before'
            + ' features until the budget is positive again.',
  },

  // Service level objectives over the request series of your own services (the exporter
  // does not produce them). An availability SLI counts good and total requests; a latency
  // SLI counts the requests of a histogram under a bucket bound `le` (written as exposed).
  // The examples are the sample app `checkout` of examples/quickstart.yaml.
  slos: [
    {
      name: 'checkout-availability',
      app: 'checkout',
      team: 'payments',
      objective: 0.999,
      window: '30d',
      sli: {
        type: 'availability',
        good: 'http_requests_total{app="checkout", code!~"5.."}',
        total: 'http_requests_total{app="checkout"}',
      },
    },
    {
      name: 'checkout-latency',
      app: 'checkout',
      team: 'payments',
      objective: 0.95,
      window: '30d',
      sli: {
        type: 'latency',
        histogram: 'http_request_duration_seconds',
        selector: 'app="checkout"',
        le: '0.5',
      },
    },
  ],
}
