"""CVSS base scores from vectors, checked against the FIRST specifications' equations worked
by hand (v3.1 section 7.1, v3.0 the same with its simpler Roundup, v2 section 3.2.1)."""

from __future__ import annotations

import pytest

from kpi_exporter.sources.cvss import base_score, severity

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


@pytest.mark.parametrize(("vector", "score"), V3 + V2)
def test_base_score_of_a_vector(vector: str, score: float) -> None:
    assert base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    [
        # CVSS 4.0 is a lookup of macro-vectors, not an equation: not scored.
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "1",  # a bare number (OSV-Scanner's own test data writes one): not a vector
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N",  # A missing
        "CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",  # AV twice
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",  # unknown value
        "",
    ],
)
def test_what_is_not_a_v2_or_v3_vector_has_no_score(vector: str) -> None:
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
