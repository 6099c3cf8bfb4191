"""Guarded claims fail when a result they read changes."""

from __future__ import annotations

import pytest

from course_lib import claims
from course_lib.experiments.stats import compare_to_baseline

ALEXNET = {42: 0.5201, 43: 0.5143, 44: 0.4930}


def _reading(triplet: dict[int, float]) -> None:
    """A reading as a chapter writes it: TA ahead, not significant, the source's +5.35 points
    inside the interval, the curve still rising."""
    (d,) = compare_to_baseline({"none": ALEXNET, "triplet": triplet}, "none")
    with claims.guard("a test reading") as claim:
        claim.positive(d.diff, "Triplet Attention leads plain AlexNet")
        claim.not_significant(d, "the lead is within noise")
        claim.inside(0.0535, d.low, d.high, "the source's +5.35 points lie inside the interval")
        claim.rising([0.44, 0.48, 0.49], "still rising at the last epoch")


def test_the_claims_of_the_committed_result_hold(capsys):
    _reading({42: 0.5247, 43: 0.5560, 44: 0.5130})
    assert "4 claim(s) of the reading of a test reading hold" in capsys.readouterr().out


def test_an_altered_result_makes_a_guarded_claim_fail():
    with pytest.raises(claims.ClaimError) as failed:
        _reading({42: 0.5131, 43: 0.5219, 44: 0.4898})  # the re-run: TA no longer ahead
    message = str(failed.value)
    assert "'Triplet Attention leads plain AlexNet' does not hold: the value is" in message
    assert "rewrite it" in message
    assert "within noise" not in message, "only the contradicted claims are listed"


def test_each_check_fails_on_the_opposite():
    c = claims.Claims("opposites")
    c.negative(0.1, "a")
    c.larger(1, 2, "b")
    c.outside(0.5, 0, 1, "c")
    c.levelling_off([0.1, 0.5], "d")
    c.rising([0.5, 0.5], "e")
    assert len(c.failed) == 5
    with pytest.raises(claims.ClaimError):
        c.verify()
