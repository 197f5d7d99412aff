"""CVSS base scores from vectors, checked against the FIRST specifications' equations worked
by hand (v3.1 section 7.1, v3.0 the same with its simpler Roundup, v2 section 3.2.1), and for
CVSS 4.0 against scores of FIRST's reference: two worked by hand from its published macro
vector table, the others as its calculator (FIRST's cvss-v4-calculator) and the reference
data it is tested against (the vectors_simple4 list of Red Hat's cvss library, which the
calculator's data comes from) give them."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest

from kpi_exporter.sources.cvss import base_score, severity
from kpi_exporter.sources.cvss4 import MACRO_SCORES, macro_vector
from tests.real_data import artifact

# Weights (v3): AV N .85 L .55; AC L .77 H .44; PR N .85, L .62 (.68 when S:C), H .27;
# UI N .85 R .62; C/I/A H .56 L .22 N 0. ISS = 1 - (1-C)(1-I)(1-A);
# S:U impact 6.42 ISS; S:C impact 7.52 (ISS - .029) - 3.25 (ISS - .02)^15;
# exploitability 8.22 AV AC PR UI; score Roundup(min(impact + exploitability, 10)), x1.08 if S:C.
V3 = [
    # ISS .56: impact 3.5952 + expl 8.22 x .85 x .77 x .85 x .85 = 3.8870 -> 7.4822 -> 7.5
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    # ISS 1 - .78 x .78 x .44 = .732304: impact 4.7014 + 3.8870 = 8.5884 -> 8.6
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:H", 8.6),
    # ISS 1 - .44^3 = .914816: impact 5.8731 + 3.8870 = 9.7601 -> 9.8
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    # S:C: impact 7.52 x .885816 - 3.25 x .894816^15 = 6.0477; expl 8.22 x .85 x .77 x .68
    # x .85 = 3.1096; 1.08 x 9.1573 = 9.8899 -> 9.9
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
    ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
    # ISS .22: impact 1.4124; expl 8.22 x .55 x .44 x .27 x .62 = .3331; 1.7455 -> 1.8
    ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8),
    # No impact: 0.
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    # Temporal metrics do not change the base score.
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H/E:U/RL:O/RC:C", 7.5),
]
# v2: impact 10.41 (1 - (1-C)(1-I)(1-A)), C/I/A P .275 C .660; expl 20 AV AC Au (N 1, L .71,
# Au:N .704); score (.6 impact + .4 expl - 1.5) x 1.176.
V2 = [
    # impact 10.41 x (1 - .725^3) = 6.4429; expl 9.9968; (3.8657 + 3.9987 - 1.5) x 1.176 = 7.4849
    ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
    # impact 10.0008; (6.0005 + 3.9987 - 1.5) x 1.176 = 9.9950 -> 10.0
    ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
    # AC:M .61: impact 2.8628, expl 8.5888; (1.7177 + 3.4355 - 1.5) x 1.176 = 4.2962 -> 4.3
    ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
]


# CVSS 4.0 (CVSS-B). Macro vector EQ1..EQ6: EQ1 0 when AV, PR, UI are all N; EQ2 0 when AC:L
# and AT:N; EQ3 0 when VC:H and VI:H, 1 when one of VC, VI, VA is H, else 2; EQ4 1 when one of
# SC, SI, SA is H, else 2; EQ5 0 (E not defined); EQ6 0 when one of VC, VI, VA is H.
V4 = [
    # 000200 (EQ4 2: no subsequent impact): 9.3 in FIRST's table; the vector is the class's
    # highest (all distances 0), so nothing is taken off: 9.3.
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
    # 001200: 8.8. Lower macro vectors: EQ1 101200 7.2, EQ2 011200 8.4, EQ3/EQ6 001201 8.0,
    # EQ4 001300 none, EQ5 001210 7.8. Highest of EQ3 1 that the vector is not above:
    # VC:L/VI:H/VA:H, distance (N-L) + (N-H) + 0 = 0.1 + 0.2 = 0.3 over a depth of 0.8;
    # EQ1, EQ2 distances 0. Mean of (0, 0, (8.8 - 8.0) x 0.3 / 0.8 = 0.3, 0) = 0.075;
    # 8.8 - 0.075 = 8.725: 8.7.
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 8.7),
    # Scores of the reference data (vectors_simple4), across the four attack vectors, both
    # complexities and requirements, every user interaction and privilege:
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:H/SA:L", 9.2),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:L/SA:N", 6.9),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:L/SA:H", 7.9),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.6),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:N/VI:H/VA:H/SC:N/SI:N/SA:L", 7.2),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:L/VI:L/VA:N/SC:L/SI:N/SA:N", 4.8),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:N/SA:H", 9.5),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:N/VI:L/VA:L/SC:L/SI:N/SA:N", 1.8),
    ("CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:L/SI:H/SA:L", 9.4),
    ("CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:A/VC:N/VI:N/VA:N/SC:N/SI:H/SA:N", 4.0),
    ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:A/VC:L/VI:N/VA:N/SC:N/SI:L/SA:L", 1.0),
    ("CVSS:4.0/AV:L/AC:H/AT:N/PR:L/UI:N/VC:H/VI:H/VA:L/SC:N/SI:H/SA:L", 8.5),
    ("CVSS:4.0/AV:L/AC:H/AT:N/PR:H/UI:P/VC:H/VI:N/VA:H/SC:L/SI:L/SA:N", 4.4),
    ("CVSS:4.0/AV:L/AC:H/AT:P/PR:L/UI:A/VC:H/VI:H/VA:N/SC:N/SI:H/SA:N", 6.7),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:L/SC:L/SI:H/SA:H", 8.5),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:L/UI:N/VC:N/VI:H/VA:N/SC:L/SI:N/SA:N", 5.1),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:L/UI:A/VC:N/VI:L/VA:L/SC:L/SI:N/SA:N", 2.4),
    # No impact on any system: 0.0 (the specification's shortcut).
    ("CVSS:4.0/AV:A/AC:H/AT:P/PR:L/UI:P/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0),
    # Threat, environmental and supplemental metrics do not change the base score (CVSS-B).
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/E:U/AR:L/S:P/U:Red", 8.7),
]


@pytest.mark.parametrize(("vector", "score"), V3 + V2 + V4)
def test_base_score_of_a_vector(vector: str, score: float) -> None:
    assert base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",  # SA missing
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/SA:H",  # SA twice
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",  # S: only MSI
        "CVSS:4.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",  # no such version
        "1",  # a bare number (OSV-Scanner's own test data writes one): not a vector
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N",  # A missing
        "CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",  # AV twice
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",  # unknown value
        "",
    ],
)
def test_what_is_not_a_v2_v3_or_v4_vector_has_no_score(vector: str) -> None:
    assert base_score(vector) is None


def test_severity_bands() -> None:
    assert [severity(s) for s in (9.0, 8.9, 7.0, 6.9, 4.0, 3.9, 0.1, 0.0, None)] == [
        "critical",
        "high",
        "high",
        "medium",
        "medium",
        "low",
        "low",
        "unknown",
        "unknown",
    ]


def test_the_v4_table_holds_every_macro_vector_once_and_never_rises_to_a_lower_class() -> None:
    # EQ1 3 x EQ2 2 x EQ3/EQ6 (00, 01, 10, 11, 21: 5) x EQ4 3 x EQ5 3 = 270 macro vectors.
    assert len(MACRO_SCORES) == 3 * 2 * 5 * 3 * 3 == 270
    for eq, score in MACRO_SCORES.items():
        for index in range(6):
            lower = list(eq)
            lower[index] += 1
            assert MACRO_SCORES.get(tuple(lower), score) <= score, (eq, index)
    assert MACRO_SCORES[(0, 0, 0, 0, 0, 0)] == 10  # the highest class
    assert MACRO_SCORES[(2, 1, 2, 2, 2, 1)] == Fraction(1, 10)  # the lowest


def test_macro_vector_of_the_example() -> None:
    vector = "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    metrics = dict(part.split(":", 1) for part in vector.split("/"))
    assert macro_vector(metrics) == (0, 0, 0, 2, 0, 0)


OSV_OUTPUTS = [
    "scan/osv-ci-test-vuln-results-b.json",
    "scan/osv-machinejson-across-ecosystems.json",
    "scan/osv-machinejson-two-aliases-max-severity.json",
    "scan/osv-output-test-vuln-results-a.json",
]


def _vectors(node: Any) -> list[str]:
    """Every ``severity[].score`` of an OSV output that is a CVSS vector."""
    if isinstance(node, dict):
        found = [
            str(entry.get("score"))
            for entry in node.get("severity") or ()
            if isinstance(entry, dict) and str(entry.get("type", "")).startswith("CVSS_")
        ]
        return found + [
            v for key, value in node.items() if key != "severity" for v in _vectors(value)
        ]
    if isinstance(node, list):
        return [v for item in node for v in _vectors(item)]
    return []


def test_every_cvss_vector_of_the_real_osv_outputs_is_scored() -> None:
    """The four OSV-Scanner outputs of the shared real data hold five CVSS vectors, all 3.1
    and none 4.0 (counted with grep): RUSTSEC-2022-0013's ``.../C:N/I:N/A:H`` four times
    (7.5) and one ``.../C:L/I:L/A:H`` (8.6), as worked by hand above."""
    vectors = [v for name in OSV_OUTPUTS for v in _vectors(json.loads(artifact(name).read_text()))]
    assert Counter(v.split("/")[0] for v in vectors) == {"CVSS:3.1": 5}
    assert Counter(base_score(v) for v in vectors) == {7.5: 4, 8.6: 1}
