"""CVSS base scores from vector strings, as the FIRST specifications define them, and the
qualitative severity of a score.

- **CVSS 3.0 and 3.1** (``CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H``): the base score of
  the specification's section 7.1, with its ``Roundup`` (3.1: the integer form of Appendix A;
  3.0: the smallest number with one decimal equal to or above the input). Temporal and
  environmental metrics in the vector are allowed and do not change the base score.
- **CVSS 2** (``AV:N/AC:L/Au:N/C:P/I:P/A:P``): the base equation of the v2 guide, section 3.2.1.
- **CVSS 4.0** (``CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N``): the
  CVSS-B score of the specification's "CVSS v4.0 Scoring" (:mod:`.cvss4`): the macro vector
  (EQ1..EQ6) looked up in FIRST's table, less the mean of its proportional distances to the
  next lower macro vectors. Threat, environmental and supplemental metrics in the vector are
  allowed and do not change the base score, as for 3.x.

Anything else (a bare number, a missing or repeated base metric, an unknown value) gives
``None``, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from . import cvss4

SEVERITY_BANDS = ((9.0, "critical"), (7.0, "high"), (4.0, "medium"), (0.1, "low"))
"""CVSS v3 and v4.0 qualitative ratings (v3.1 section 5; v4.0's Qualitative Severity Rating
Scale has the same bands): 0.0 is none, which we call unknown."""

_V3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "PR": {"N": 0.85, "L": 0.62, "H": 0.27},
    "UI": {"N": 0.85, "R": 0.62},
    "S": {"U": 0.0, "C": 0.0},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}  # Privileges Required when Scope is Changed

_V2_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}


def base_score(vector: str) -> float | None:
    """The CVSS base score of a v2, v3.0, v3.1 or v4.0 vector; ``None`` for anything else."""
    text = vector.strip()
    if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
        metrics = _metrics(text[len("CVSS:3.x/") :], _V3_WEIGHTS)
        return None if metrics is None else _v3(metrics, text.startswith("CVSS:3.1/"))
    if text.startswith("CVSS:4.0/"):
        metrics = _metrics(text[len("CVSS:4.0/") :], cvss4.LEVELS)
        return None if metrics is None else cvss4.base_score(metrics)
    if text.startswith("CVSS:"):
        return None  # an unknown version
    metrics = _metrics(text.removeprefix("(").removesuffix(")"), _V2_WEIGHTS)
    return None if metrics is None else _v2(metrics)


def severity(score: float | None) -> str:
    """``critical`` (9.0 and above), ``high`` (7.0), ``medium`` (4.0), ``low`` (0.1), else
    ``unknown`` (no score, or 0.0)."""
    if score is None:
        return "unknown"
    return next((name for bound, name in SEVERITY_BANDS if score >= bound), "unknown")


def _metrics(text: str, weights: Mapping[str, Mapping[str, float]]) -> dict[str, str] | None:
    """The base metrics of a vector (each exactly once, with a known value), or ``None``."""
    found: dict[str, str] = {}
    for part in text.split("/"):
        name, colon, value = part.partition(":")
        if not colon:
            return None
        if name in weights:
            if name in found or value not in weights[name]:
                return None
            found[name] = value
    return found if len(found) == len(weights) else None


def _v3(metrics: dict[str, str], v31: bool) -> float:
    changed = metrics["S"] == "C"
    iss = 1 - math.prod(1 - _V3_WEIGHTS[name][metrics[name]] for name in ("C", "I", "A"))
    scoped = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    impact = scoped if changed else 6.42 * iss
    privileges = (_V3_PR_CHANGED if changed else _V3_WEIGHTS["PR"])[metrics["PR"]]
    exploitability = (
        8.22
        * _V3_WEIGHTS["AV"][metrics["AV"]]
        * _V3_WEIGHTS["AC"][metrics["AC"]]
        * privileges
        * _V3_WEIGHTS["UI"][metrics["UI"]]
    )
    if impact <= 0:
        return 0.0
    total = (1.08 if changed else 1.0) * (impact + exploitability)
    return _roundup31(min(total, 10.0)) if v31 else _roundup30(min(total, 10.0))


def _roundup31(value: float) -> float:
    """CVSS 3.1 Appendix A: round up to one decimal, free of floating-point artefacts."""
    integer = round(value * 100_000)
    if integer % 10_000 == 0:
        return integer / 100_000.0
    return (math.floor(integer / 10_000) + 1) / 10.0


def _roundup30(value: float) -> float:
    """CVSS 3.0: the smallest number, to one decimal place, equal to or higher than the input."""
    return math.ceil(value * 10) / 10


def _v2(metrics: dict[str, str]) -> float:
    weight = {name: _V2_WEIGHTS[name][value] for name, value in metrics.items()}
    impact = 10.41 * (1 - (1 - weight["C"]) * (1 - weight["I"]) * (1 - weight["A"]))
    exploitability = 20 * weight["AV"] * weight["AC"] * weight["Au"]
    f_impact = 0.0 if impact == 0 else 1.176
    score = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f_impact
    # "round_to_1_decimal": half up, on the decimal value (not the binary float's halves).
    return float(Decimal(repr(round(score, 9))).quantize(Decimal("0.1"), ROUND_HALF_UP))
