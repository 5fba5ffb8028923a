"""When may the agent act without asking? A threshold with a guarantee.

The fixed-sequence testing calibration of "Trust or Escalate" (Jung, Brahman and
Choi, arXiv 2407.18370): from past steps a person judged, each a (confidence,
agreed) pair, find the lowest confidence threshold λ such that, with
probability at least 1 − δ, the person agrees with at least 1 − α of the steps
whose confidence is ≥ λ.

For each candidate λ, from high to low, the disagreements among the k
calibration steps with confidence ≥ λ give an exact binomial (Clopper-Pearson,
one-sided, level δ) upper bound on the disagreement rate. λ is accepted when the
bound is ≤ α, equivalently when the binomial p-value P(Bin(n, α) ≤ k) is ≤ δ.
The scan stops at the first λ that fails (that is what makes testing many λ
without a multiplicity correction valid); the threshold is the last accepted λ.

The candidate λs are the observed confidences (testing between two of them
would test the same set of steps again). λs whose set is too small for any
outcome to pass (n below ⌈log δ / log(1 − α)⌉, where even no disagreement fails)
are not tested at all, so the scan starts where the data can say something.
Pure Python: no scipy, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from webagent.errors import DataError


@dataclass(frozen=True)
class Calibration:
    """A calibrated auto-approval threshold, or None: always ask."""

    threshold: float | None  # act without asking when confidence ≥ threshold; None: always ask
    coverage: float  # share of the calibration steps at or above the threshold (0 when None)
    agreement: float | None  # empirical agreement among those steps
    bound: float | None  # Clopper-Pearson upper bound on their disagreement rate (≤ alpha when accepted)
    p_value: float | None  # P(Bin(n, alpha) ≤ k) at the threshold
    n: int  # calibration steps
    covered: int  # of them at or above the threshold
    alpha: float
    delta: float
    reason: str = ""  # why there is no threshold

    @property
    def guarantee(self) -> str:
        """The promise, in words."""
        promise = f"agreement ≥ {1 - self.alpha:.0%} with probability ≥ {1 - self.delta:.0%}"
        if self.threshold is None:
            return f"always asks ({self.reason}); would promise {promise}"
        return f"auto-approves confidence ≥ {self.threshold:.4g}: {promise}"


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Bin(n, p) ≤ k), summed in log space (exact enough for n in the tens of thousands)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def clopper_pearson_upper(k: int, n: int, delta: float) -> float:
    """The one-sided exact upper confidence bound at level 1 − δ on a rate with k
    events in n trials: the p with P(Bin(n, p) ≤ k) = δ (1 when k = n)."""
    if n <= 0 or k >= n:
        return 1.0
    if k == 0:
        return 1.0 - delta ** (1.0 / n)
    lo, hi = k / n, 1.0
    for _ in range(100):  # bisection; the cdf falls as p grows
        mid = (lo + hi) / 2
        if binomial_cdf(k, n, mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def min_testable(alpha: float, delta: float) -> int:
    """The fewest steps for which any outcome (no disagreement at all) can pass: (1 − α)^n ≤ δ."""
    n = max(1, math.ceil(math.log(delta) / math.log1p(-alpha)))
    while (1 - alpha) ** n > delta:  # guard against rounding in the logarithms
        n += 1
    while n > 1 and (1 - alpha) ** (n - 1) <= delta:
        n -= 1
    return n


def calibrate(
    pairs: Iterable[tuple[float, bool]], *, alpha: float = 0.1, delta: float = 0.1, min_samples: int = 30
) -> Calibration:
    """The lowest threshold that keeps the disagreement rate's upper bound ≤ α (see the module doc).

    `pairs`: (confidence, agreed) per judged step. Fewer than `min_samples` pairs: no threshold."""
    if not 0 < alpha < 1 or not 0 < delta < 1:
        raise DataError(f"alpha and delta must lie in (0, 1), not alpha={alpha}, delta={delta}")
    data = sorted(((float(c), bool(a)) for c, a in pairs), key=lambda pair: -pair[0])
    if any(math.isnan(c) for c, _ in data):
        raise DataError("a calibration confidence is NaN")
    n_total = len(data)
    none = Calibration(None, 0.0, None, None, None, n_total, 0, alpha, delta)
    if n_total < min_samples:
        return _with_reason(none, f"{n_total} judged steps, fewer than the {min_samples} needed")
    smallest = min_testable(alpha, delta)
    best: tuple[float, int, int, float] | None = None  # (λ, n, k, p-value)
    n = k = 0
    i = 0
    while i < n_total:
        level = data[i][0]
        while i < n_total and data[i][0] == level:  # ties enter together
            k += not data[i][1]
            n += 1
            i += 1
        if n < smallest:
            continue  # no outcome could pass here yet: not a test
        p_value = binomial_cdf(k, n, alpha)
        if p_value > delta:
            break  # the first failure ends the fixed sequence
        best = (level, n, k, p_value)
    if best is None:
        reason = "no confidence level passes the bound" if n_total >= smallest else "too few judged steps"
        return _with_reason(none, reason)
    level, n, k, p_value = best
    return Calibration(
        threshold=level,
        coverage=n / n_total,
        agreement=1 - k / n,
        bound=clopper_pearson_upper(k, n, delta),
        p_value=p_value,
        n=n_total,
        covered=n,
        alpha=alpha,
        delta=delta,
    )


def _with_reason(calibration: Calibration, reason: str) -> Calibration:
    from dataclasses import replace

    return replace(calibration, reason=reason)
