// Prometheus durations ('5m', '1h30m', '7d') as seconds, and the phrases runbooks use.
local markers = import 'markers.libsonnet';
local unitSeconds = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

// Walk the characters once: [seconds so far, the number being read, its unit].
local walk(text) = std.foldl(
  function(acc, char)
    local digit = std.codepoint(char) - std.codepoint('0');
    if digit >= 0 && digit <= 9 then
      if acc[2] == '' then [acc[0], acc[1] * 10 + digit, '']
      else [acc[0] + acc[1] * std.get(unitSeconds, acc[2], error 'not a duration: ' + text),
            digit, '']
    else [acc[0], acc[1], acc[2] + char],
  std.stringChars(text),
  [0, 0, ''],
);

{
  // Seconds in a duration string; a number is taken as seconds already.
  // A Helm chart threshold marker (markers.libsonnet) becomes '@@Name|seconds@@'.
  seconds(value)::
    if std.isNumber(value) then value
    else if markers.is(value) then markers.marked(value, 'seconds')
    else
      local end = walk(value);
      local digit = std.codepoint(value[0]) - std.codepoint('0');
      assert digit >= 0 && digit <= 9 && std.objectHas(unitSeconds, end[2]) :
             'not a duration: ' + value;
      end[0] + end[1] * unitSeconds[end[2]],

  // The longest unit that divides the value: 86400 -> '1d', 5400 -> '90m', 604800 -> '7d'.
  text(seconds)::
    if markers.is(seconds) then markers.marked(seconds, 'text')
    else
      local fits = [
        unit
        for unit in ['d', 'h', 'm', 's']
        if seconds >= unitSeconds[unit] && seconds % unitSeconds[unit] == 0
      ];
      if seconds == 0 then '0s'
      else if fits == [] then std.toString(seconds) + 's'
      else std.toString(seconds / unitSeconds[fits[0]]) + fits[0],

  // Days in a duration, for "per day" rates: '7d' -> 7.
  days(value):: self.seconds(value) / 86400,
}
