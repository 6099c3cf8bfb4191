"""Guarded claims: the qualitative words of a reading, checked against the numbers they read.

A chapter's paragraph after a result is written by a person for the committed result, with its
numbers inserted from the results. Its words are not numbers: "ahead", "significant", "still
rising", "inside the interval". Each of them is written a second time as a check, in a code cell
after the paragraph (hidden on the website)::

    with claims.guard("chapter 02: Triplet Attention against AlexNet") as claim:
        claim.positive(d.diff, "Triplet Attention leads plain AlexNet")
        claim.not_significant(d, "the lead is within noise")
        claim.inside(0.0535, d.low, d.high, "the source's +5.35 points lie inside our interval")
        claim.rising(curve, "the validation accuracy is still rising at the last epoch")

When a re-run moves a result so that a sentence no longer holds, the block raises
:class:`ClaimError` naming every contradicted sentence and the number that contradicts it; the
notebook stops there, and nbval and ``run-notebooks`` report it. The paragraph must then be
rewritten for the new result, never the check loosened.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field


class ClaimError(AssertionError):
    """A reading says something its numbers no longer show."""


@dataclass
class Claims:
    """The claims of one reading; :meth:`verify` raises if any of them failed."""

    reading: str
    checked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def that(self, holds: bool, claim: str, found: str = "") -> None:
        """The general form: ``claim`` holds when ``holds`` is true; ``found`` says what the
        numbers show, for the message when it does not."""
        self.checked.append(claim)
        if not holds:
            self.failed.append(f"{claim!r} does not hold" + (f": {found}" if found else ""))

    def positive(self, value: float, claim: str) -> None:
        self.that(value > 0, claim, f"the value is {value:+.4g}")

    def negative(self, value: float, claim: str) -> None:
        self.that(value < 0, claim, f"the value is {value:+.4g}")

    def larger(self, a: float, b: float, claim: str) -> None:
        """``a > b``."""
        self.that(a > b, claim, f"{a:.4g} is not larger than {b:.4g}")

    def inside(self, value: float, low: float, high: float, claim: str) -> None:
        self.that(low <= value <= high, claim, f"{value:.4g} is outside [{low:.4g}, {high:.4g}]")

    def outside(self, value: float, low: float, high: float, claim: str) -> None:
        self.that(not low <= value <= high, claim, f"{value:.4g} is inside [{low:.4g}, {high:.4g}]")

    def significant(self, difference, claim: str) -> None:
        """A :class:`course_lib.experiments.stats.Difference` that is significant."""
        self.that(difference.significant, claim, f"the verdict is {difference.verdict()!r}")

    def not_significant(self, difference, claim: str) -> None:
        self.that(not difference.significant, claim, f"the verdict is {difference.verdict()!r}")

    def detectable_below(self, difference, limit: float, claim: str) -> None:
        """The design detects differences of at most ``limit`` (same units as the data)."""
        found = difference.detectable
        self.that(
            not math.isnan(found) and found <= limit, claim, f"the design detects ≥ {found:.4g}"
        )

    def rising(self, curve: Sequence[float], claim: str, min_gain: float = 0.002) -> None:
        """The last step of ``curve`` gained more than ``min_gain``."""
        gain = curve[-1] - curve[-2] if len(curve) > 1 else math.nan
        self.that(gain > min_gain, claim, f"the last step changed it by {gain:+.4g}")

    def levelling_off(self, curve: Sequence[float], claim: str, min_gain: float = 0.002) -> None:
        gain = curve[-1] - curve[-2] if len(curve) > 1 else math.nan
        self.that(gain <= min_gain, claim, f"the last step changed it by {gain:+.4g}")

    def verify(self) -> str:
        """Raise :class:`ClaimError` listing every failed claim; else say how many held."""
        if self.failed:
            raise ClaimError(
                f"the reading of {self.reading} no longer matches its results; rewrite it for "
                "the new numbers (do not loosen the check):\n  - " + "\n  - ".join(self.failed)
            )
        return f"{len(self.checked)} claim(s) of the reading of {self.reading} hold"


@contextmanager
def guard(reading: str) -> Iterator[Claims]:
    """Collect the claims of one reading and verify them when the block ends (see the module
    docstring); prints how many held."""
    claims = Claims(reading)
    yield claims
    print(claims.verify())
