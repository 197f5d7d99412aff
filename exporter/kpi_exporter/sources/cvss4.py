"""The CVSS v4.0 base score (CVSS-B) of a vector's base metrics, as FIRST's specification
defines it ("CVSS v4.0 Scoring"): not an equation but a table.

1. The six equivalence classes (EQ1..EQ6) of the vector give its macro vector, whose score
   FIRST published (:data:`MACRO_SCORES`, 270 values).
2. For each EQ, the vector's severity distance from the highest vector of its class
   (:data:`HIGHEST`; the first one not below the vector in any metric) is divided by the
   class's depth (:data:`DEPTHS`), and that proportion of the score difference to the next
   lower macro vector of the EQ is taken; an EQ whose lower macro vector does not exist
   takes no part. EQ5 (exploit maturity) always counts with a proportion of 0.
3. The score is the macro vector's score less the mean of those parts, between 0 and 10,
   rounded half up to one decimal. A vector without any impact (VC, VI, VA, SC, SI, SA all
   N) scores 0.

A base score reads the base metrics only: exploit maturity is taken as not defined (E:X is
E:A, the worst case) and the security requirements as not defined (CR, IR, AR: X is H), so
EQ5 is 0 and EQ6 is 0 exactly when one of VC, VI, VA is H. Their distances to every highest
vector reachable that way are 0, so they are left out below. The arithmetic is exact
(fractions): the specification's reference rounds the same value with a small epsilon
against floating-point error at x.x5 ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

# The values of each base metric from the most severe: a value's severity step (in tenths)
# is its place. (FIRST counts SC, SI, SA from 1, S being 0 for MSI and MSA: distances, the
# differences of steps, are the same.)
_ORDER = {
    "AV": "NALP", "AC": "LH", "AT": "NP", "PR": "NLH", "UI": "NPA",
    "VC": "HLN", "VI": "HLN", "VA": "HLN", "SC": "HLN", "SI": "HLN", "SA": "HLN",
}  # fmt: skip
LEVELS: dict[str, dict[str, int]] = {
    name: {value: step for step, value in enumerate(values)} for name, values in _ORDER.items()
}

# The published score of every macro vector: "EQ1 EQ2 EQ3 EQ4 EQ5 EQ6" digits, then score.
_TABLE = """
000000 10 000001 9.9 000010 9.8 000011 9.5 000020 9.5 000021 9.2 000100 10 000101 9.6
000110 9.3 000111 8.7 000120 9.1 000121 8.1 000200 9.3 000201 9 000210 8.9 000211 8
000220 8.1 000221 6.8 001000 9.8 001001 9.5 001010 9.5 001011 9.2 001020 9 001021 8.4
001100 9.3 001101 9.2 001110 8.9 001111 8.1 001120 8.1 001121 6.5 001200 8.8 001201 8
001210 7.8 001211 7 001220 6.9 001221 4.8 002001 9.2 002011 8.2 002021 7.2 002101 7.9
002111 6.9 002121 5 002201 6.9 002211 5.5 002221 2.7 010000 9.9 010001 9.7 010010 9.5
010011 9.2 010020 9.2 010021 8.5 010100 9.5 010101 9.1 010110 9 010111 8.3 010120 8.4
010121 7.1 010200 9.2 010201 8.1 010210 8.2 010211 7.1 010220 7.2 010221 5.3 011000 9.5
011001 9.3 011010 9.2 011011 8.5 011020 8.5 011021 7.3 011100 9.2 011101 8.2 011110 8
011111 7.2 011120 7 011121 5.9 011200 8.4 011201 7 011210 7.1 011211 5.2 011220 5
011221 3 012001 8.6 012011 7.5 012021 5.2 012101 7.1 012111 5.2 012121 2.9 012201 6.3
012211 2.9 012221 1.7 100000 9.8 100001 9.5 100010 9.4 100011 8.7 100020 9.1 100021 8.1
100100 9.4 100101 8.9 100110 8.6 100111 7.4 100120 7.7 100121 6.4 100200 8.7 100201 7.5
100210 7.4 100211 6.3 100220 6.3 100221 4.9 101000 9.4 101001 8.9 101010 8.8 101011 7.7
101020 7.6 101021 6.7 101100 8.6 101101 7.6 101110 7.4 101111 5.8 101120 5.9 101121 5
101200 7.2 101201 5.7 101210 5.7 101211 5.2 101220 5.2 101221 2.5 102001 8.3 102011 7
102021 5.4 102101 6.5 102111 5.8 102121 2.6 102201 5.3 102211 2.1 102221 1.3 110000 9.5
110001 9 110010 8.8 110011 7.6 110020 7.6 110021 7 110100 9 110101 7.7 110110 7.5
110111 6.2 110120 6.1 110121 5.3 110200 7.7 110201 6.6 110210 6.8 110211 5.9 110220 5.2
110221 3 111000 8.9 111001 7.8 111010 7.6 111011 6.7 111020 6.2 111021 5.8 111100 7.4
111101 5.9 111110 5.7 111111 5.7 111120 4.7 111121 2.3 111200 6.1 111201 5.2 111210 5.7
111211 2.9 111220 2.4 111221 1.6 112001 7.1 112011 5.9 112021 3 112101 5.8 112111 2.6
112121 1.5 112201 2.3 112211 1.3 112221 0.6 200000 9.3 200001 8.7 200010 8.6 200011 7.2
200020 7.5 200021 5.8 200100 8.6 200101 7.4 200110 7.4 200111 6.1 200120 5.6 200121 3.4
200200 7 200201 5.4 200210 5.2 200211 4 200220 4 200221 2.2 201000 8.5 201001 7.5
201010 7.4 201011 5.5 201020 6.2 201021 5.1 201100 7.2 201101 5.7 201110 5.5 201111 4.1
201120 4.6 201121 1.9 201200 5.3 201201 3.6 201210 3.4 201211 1.9 201220 1.9 201221 0.8
202001 6.4 202011 5.1 202021 2 202101 4.7 202111 2.1 202121 1.1 202201 2.4 202211 0.9
202221 0.4 210000 8.8 210001 7.5 210010 7.3 210011 5.3 210020 6 210021 5 210100 7.3
210101 5.5 210110 5.9 210111 4 210120 4.1 210121 2 210200 5.4 210201 4.3 210210 4.5
210211 2.2 210220 2 210221 1.1 211000 7.5 211001 5.5 211010 5.8 211011 4.5 211020 4
211021 2.1 211100 6.1 211101 5.1 211110 4.8 211111 1.8 211120 2 211121 0.9 211200 4.6
211201 1.8 211210 1.7 211211 0.7 211220 0.8 211221 0.2 212001 5.3 212011 2.4 212021 1.4
212101 2.4 212111 1.2 212121 0.5 212201 1 212211 0.3 212221 0.1
"""
_WORDS = _TABLE.split()
MACRO_SCORES: dict[tuple[int, ...], Fraction] = {
    tuple(int(digit) for digit in key): Fraction(score)
    for key, score in zip(_WORDS[::2], _WORDS[1::2], strict=True)
}

# The highest-severity vectors of each class reachable by a base score, in FIRST's order.
HIGHEST: dict[str, dict[int, list[str]]] = {
    "eq1": {
        0: ["AV:N/PR:N/UI:N"],
        1: ["AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"],
        2: ["AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"],
    },
    "eq2": {0: ["AC:L/AT:N"], 1: ["AC:H/AT:N", "AC:L/AT:P"]},
    # EQ3 with EQ6: (0, 0), (1, 0) and (2, 1) are the pairs a base score reaches.
    "eq3": {
        0: ["VC:H/VI:H/VA:H"],
        1: ["VC:L/VI:H/VA:H", "VC:H/VI:L/VA:H"],
        2: ["VC:L/VI:L/VA:L"],
    },
    # EQ4 0 needs MSI:S or MSA:S, environmental metrics.
    "eq4": {1: ["SC:H/SI:H/SA:H"], 2: ["SC:L/SI:L/SA:L"]},
}

# The depth of each class (its largest severity distance, plus one), in tenths.
DEPTHS: dict[str, dict[int, int]] = {
    "eq1": {0: 1, 1: 4, 2: 5},
    "eq2": {0: 1, 1: 2},
    "eq3": {0: 7, 1: 8, 2: 10},  # with EQ6 0, 0 and 1 respectively
    "eq4": {1: 5, 2: 4},
}
_GROUPS = {
    "eq1": ("AV", "PR", "UI"),
    "eq2": ("AC", "AT"),
    "eq3": ("VC", "VI", "VA"),
    "eq4": ("SC", "SI", "SA"),
}
_IMPACT = ("VC", "VI", "VA", "SC", "SI", "SA")


def macro_vector(m: Mapping[str, str]) -> tuple[int, int, int, int, int, int]:
    """EQ1..EQ6 of a vector's base metrics (E not defined, CR, IR and AR not defined)."""
    if m["AV"] == "N" and m["PR"] == "N" and m["UI"] == "N":
        eq1 = 0
    elif "N" in (m["AV"], m["PR"], m["UI"]) and m["AV"] != "P":
        eq1 = 1
    else:
        eq1 = 2
    eq2 = 0 if m["AC"] == "L" and m["AT"] == "N" else 1
    if m["VC"] == "H" and m["VI"] == "H":
        eq3 = 0
    elif "H" in (m["VC"], m["VI"], m["VA"]):
        eq3 = 1
    else:
        eq3 = 2
    eq4 = 1 if "H" in (m["SC"], m["SI"], m["SA"]) else 2
    eq6 = 0 if "H" in (m["VC"], m["VI"], m["VA"]) else 1  # with CR, IR, AR all H
    return eq1, eq2, eq3, eq4, 0, eq6


def base_score(metrics: Mapping[str, str]) -> float:
    """The CVSS-B score of ``metrics`` (the eleven base metrics, each with a valid value)."""
    if all(metrics[name] == "N" for name in _IMPACT):
        return 0.0
    eq = macro_vector(metrics)
    score = MACRO_SCORES[eq]
    parts: list[Fraction] = []
    for index, group in enumerate(("eq1", "eq2", "eq3", "eq4")):
        lower = _lower_score(eq, index)
        if lower is None:
            continue
        distance = _distance(metrics, group, eq[index])
        parts.append((score - lower) * Fraction(distance, DEPTHS[group][eq[index]]))
    if _score_with(eq, 4, eq[4] + 1) is not None:
        parts.append(Fraction(0))  # EQ5: a lower macro vector, at a proportion of 0
    mean = sum(parts, Fraction(0)) / len(parts) if parts else Fraction(0)
    value = min(max(score - mean, Fraction(0)), Fraction(10))
    return float(Fraction(int(value * 10 + Fraction(1, 2)), 10))


def _score_with(eq: tuple[int, ...], index: int, level: int) -> Fraction | None:
    changed = list(eq)
    changed[index] = level
    return MACRO_SCORES.get(tuple(changed))


def _lower_score(eq: tuple[int, ...], index: int) -> Fraction | None:
    """The score of the next lower macro vector of one EQ (EQ3 moves with EQ6); None when
    there is none."""
    if index != 2:
        return _score_with(eq, index, eq[index] + 1)
    eq3, eq6 = eq[2], eq[5]
    if (eq3, eq6) == (0, 0):  # two ways down: EQ6 to 1, or EQ3 to 1; the higher counts
        scores = [_score_with(eq, 5, 1), _score_with(eq, 2, 1)]
        return max((s for s in scores if s is not None), default=None)
    if (eq3, eq6) == (1, 0):
        return _score_with(eq, 5, 1)
    if eq6 == 1 and eq3 < 2:  # (0, 1) and (1, 1): EQ3 down
        return _score_with(eq, 2, eq3 + 1)
    return None  # (2, 1): the lowest


def _distance(metrics: Mapping[str, str], group: str, level: int) -> int:
    """The vector's severity distance, in tenths, from the first highest vector of its class
    that it is not above in any metric (FIRST's order; the last one when none is)."""
    names = _GROUPS[group]
    steps: list[int] = []
    for highest in HIGHEST[group][level]:
        values = dict(part.split(":") for part in highest.split("/"))
        steps = [LEVELS[name][metrics[name]] - LEVELS[name][values[name]] for name in names]
        if min(steps) >= 0:
            break
    return sum(steps)
