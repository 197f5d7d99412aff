// Business KPIs: developer survey scores and net promoter scores per team, and their mean over
// the organisation weighted by the answers. Definitions:
// docs/definitions.md#business-and-survey-measures.
local p = import '../lib/promql.libsonnet';
local r = import '../lib/rules.libsonnet';

function(config)
  local records = (import '../lib/records.libsonnet')(config);
  local setting(name) = r.settings(config, name);
  local labels = ['team', 'survey', 'question'];
  local perTeam(family) = r.name('team', family, 'max');
  local teamRecord(family) = r.record(
    perTeam(family),
    // One series per team, survey and question; max keeps one if two exporters publish it.
    p.aggregate('max', labels, records.exporter(family)),
  );
  // The mean of the teams' values weighted by their answers.
  local orgMean(family) = r.record(
    r.name('org', family, 'mean'),
    p.sum(['survey', 'question'], perTeam(family) + ' * ' + perTeam('kpi_survey_responses'))
    + ' / (' + p.sum(['survey', 'question'], perTeam('kpi_survey_responses')) + ' > 0)',
  );

  [
    {
      name: 'developer_survey',
      title: 'Developer survey',
      unit: 'score',
      grafana_unit: 'short',  // for dashboards
      direction: 'higher',
      meaning: 'The mean score and the net promoter score (as a ratio, -1..1) of each survey'
               + ' question per team, the answers behind them, and the organisation\'s mean'
               + ' weighted by the answers of each team.',
      definition: 'definitions.md#business-and-survey-measures',
      group: 'kpi-developer-survey',
      // The names these rules record (default configuration; a test compares).
      recorded:: [
        'team:kpi_survey_responses:max',
        'team:kpi_survey_score:max',
        'team:kpi_survey_nps_ratio:max',
        'org:kpi_survey_score:mean',
        'org:kpi_survey_nps_ratio:mean',
      ],
      records: [
        teamRecord('kpi_survey_responses'),
        teamRecord('kpi_survey_score'),
        teamRecord('kpi_survey_nps_ratio'),
        orgMean('kpi_survey_score'),
        orgMean('kpi_survey_nps_ratio'),
      ],
      alerts: [
        {
          name: 'DeveloperSatisfactionLow',
          settings: setting(self.name),
          local threshold = p.num(self.settings.threshold),
          local min = p.num(self.settings.min_responses),
          expr: '%s < %s\nand\n%s >= %s' % [
            perTeam('kpi_survey_nps_ratio'),
            threshold,
            perTeam('kpi_survey_responses'),
            min,
          ],
          summary: 'Developer satisfaction is low.',
          description: 'Team {{ $labels.team }} answered question {{ $labels.question }} of'
                       + ' survey {{ $labels.survey }} with a net promoter score of'
                       + ' {{ $value | printf "%.2f" }} (-1..1); the target is at least '
                       + threshold + '.',
          meaning: 'The net promoter score of a developer survey question (promoters minus'
                   + ' detractors over all answers, -1..1): how likely the team is to'
                   + ' recommend its platform and way of working. Burnout and slow, fragile'
                   + ' tooling show here before they show in delivery.',
          threshold: 'A net promoter score under %s (NPS %s) with at least %s answers.'
                     % [threshold, p.hundredths(self.settings.threshold), min],
          next: [
            'The mean scores of the other questions of the survey'
            + ' (`team:kpi_survey_score:max`): which part of the work scores lowest?',
            'The same question across teams (`org:kpi_survey_nps_ratio:mean`): one team or'
            + ' everyone?',
          ],
        },
      ],
    },
  ]
