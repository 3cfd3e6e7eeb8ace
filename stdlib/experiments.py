"""Whether a variant of an A/B test did better than the control: the two-proportion z-test.

For a variant that converted x₁ of n₁ contacts and a control that converted x₂ of n₂:

* the difference d = x₁/n₁ − x₂/n₂, with its 95% confidence interval by the normal
  approximation of each proportion (Wald): d ± 1.96·√(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂);
* the test of "no difference" with the pooled proportion p = (x₁+x₂)/(n₁+n₂):
  z = d / √(p(1−p)(1/n₁ + 1/n₂)), and the two-sided p-value 2·(1 − Φ(|z|)) = erfc(|z|/√2);
* significant when the p-value is below 0.05.

The normal approximation is good when each group has at least 5 conversions and 5
non-conversions (`enough`); below that the comparison says so instead of a verdict.
"""

from __future__ import annotations

import math

import msgspec

#: The two-sided 95% quantile of the standard normal distribution.
Z_95 = 1.959963984540054
SIGNIFICANCE = 0.05


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    #: The variant's conversion rate minus the control's.
    difference: float
    #: The 95% confidence interval of the difference.
    low: float
    high: float
    z: float
    p_value: float
    #: Enough conversions and non-conversions in both groups for the approximation.
    enough: bool
    #: p_value < 0.05, and enough data to say so.
    significant: bool


def compare(converted: int, runs: int, control_converted: int, control_runs: int) -> Comparison | None:
    """The variant (``converted`` of ``runs``) against the control; None when a group is empty."""
    if runs <= 0 or control_runs <= 0:
        return None
    p1, p2 = converted / runs, control_converted / control_runs
    difference = p1 - p2
    spread = math.sqrt(p1 * (1 - p1) / runs + p2 * (1 - p2) / control_runs)
    pooled = (converted + control_converted) / (runs + control_runs)
    error = math.sqrt(pooled * (1 - pooled) * (1 / runs + 1 / control_runs))
    z = difference / error if error > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2)) if error > 0 else 1.0
    enough = min(converted, runs - converted, control_converted, control_runs - control_converted) >= 5
    return Comparison(difference=difference, low=difference - Z_95 * spread, high=difference + Z_95 * spread,
                      z=z, p_value=p_value, enough=enough, significant=enough and p_value < SIGNIFICANCE)  # fmt: skip
