"""Small-sample statistics for the report: mean, sample standard deviation, the two-sided 95%
Student-t confidence interval of a mean over seeds, and Welch's t-test between two sets of seeds.

The distributions come from scipy.stats (`t.ppf`, `ttest_ind(equal_var=False)`), the functions a
reader of the report would check our numbers with. Not for anything beyond these few summaries.
"""
import math
from dataclasses import dataclass
from typing import Iterable

from scipy import stats as scipy_stats

# Below this two-sided p-value a difference in mean training time is called a difference.
SIGNIFICANCE = 0.05


def t_quantile(p: float, df: float) -> float:
    """Quantile p of Student's t with `df` degrees of freedom (0.5 <= p < 1)."""
    if not 0.5 <= p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df > 0, got p={p}, df={df}")
    return float(scipy_stats.t.ppf(p, df))


def finite(values: Iterable) -> list[float]:
    """The values as floats, with None and NaN dropped."""
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


@dataclass(frozen=True)
class MeanCI:
    """Mean of n values with sample sd and a two-sided Student-t interval (NaN where undefined)."""
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float


def mean_ci(values: Iterable[float], level: float = 0.95) -> MeanCI:
    """Mean, sample sd (n - 1) and the `level` Student-t interval of the finite values given.

    Missing values (None, NaN) are dropped. With one value sd and the interval are NaN: one seed
    says nothing about spread, and the report shows a blank rather than a zero-width interval.
    """
    xs = finite(values)
    n = len(xs)
    nan = float("nan")
    if n == 0:
        return MeanCI(0, nan, nan, nan, nan)
    mean = math.fsum(xs) / n
    if n == 1:
        return MeanCI(1, mean, nan, nan, nan)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return MeanCI(n, mean, sd, mean - half, mean + half)


def welch_p(a: Iterable[float], b: Iterable[float]) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances) between two samples.

    NaN when either sample has fewer than two values: one seed gives no spread to test against.
    Two samples with zero spread each get 0.0 when their means differ and 1.0 when equal
    (scipy warns and returns NaN there; identical deterministic timings are a tie, different ones are not).
    """
    xs, ys = finite(a), finite(b)
    if len(xs) < 2 or len(ys) < 2:
        return float("nan")
    if len(set(xs)) == 1 and len(set(ys)) == 1:
        return 1.0 if xs[0] == ys[0] else 0.0
    return float(scipy_stats.ttest_ind(xs, ys, equal_var=False).pvalue)
