"""Normal and chi-square tail probabilities, from the standard library.

These three functions are all the statistics need of SciPy, and importing `scipy.special` costs ~0.12 CPU-s
(its array-API layer imports `numpy.f2py`): a quarter of what a 1M-row `modelbot monitor` spends on its own work.
The standard library holds the normal distribution (`math.erfc`; `statistics.NormalDist.inv_cdf`, Wichura's
AS241, accurate to ~1e-16), and the chi-square survival function at an integer degree of freedom is a finite sum
of positive Poisson terms (plus `erfc` for an odd count), so nothing is approximated. Tests hold all three to
`scipy.stats` over their whole range, tails included.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_STANDARD = NormalDist()
_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_sf(x: np.ndarray | float) -> np.ndarray:
    """P(Z > x) for standard normal Z, element-wise; exact in both tails (erfc, not 1 - cdf). NaN stays NaN."""
    values = np.asarray(x, dtype=np.float64)
    return np.asarray(_erfc(values / math.sqrt(2.0)), dtype=np.float64) / 2.0


def normal_quantile(p: float) -> float:
    """The z with P(Z <= z) = p (0 < p < 1)."""
    return _STANDARD.inv_cdf(p)


def chi2_sf(df: int, x: float) -> float:
    """P(X > x) for X chi-square with `df` (a positive integer) degrees of freedom.

    With y = x / 2 it is Q(df / 2, y), the regularised upper incomplete gamma function, which at an integer or a
    half-integer is a sum of positive terms: Q(k, y) = e^-y * sum_{i<k} y^i / i!, and
    Q(k + 1/2, y) = erfc(sqrt(y)) + e^-y * sum_{i<k} y^(i + 1/2) / Gamma(i + 3/2). The terms are summed from
    their logarithms, so neither a large y nor a large df overflows."""
    if df < 1 or df != int(df):
        raise ValueError(f"chi-square degrees of freedom must be a positive integer, not {df!r}")
    if math.isnan(x):
        return math.nan
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    y = x / 2.0
    half, odd = divmod(int(df), 2)
    if half == 0:
        return math.erfc(math.sqrt(y))
    i = np.arange(half, dtype=np.float64)
    if odd:
        # log Gamma(i + 3/2) = log Gamma(1/2) + sum_{m<=i} log(m + 1/2)
        log_gamma = 0.5 * math.log(math.pi) + np.cumsum(np.log(i + 0.5))
        logs = (i + 0.5) * math.log(y) - y - log_gamma
    else:
        log_factorial = np.concatenate([[0.0], np.cumsum(np.log(i[1:]))])
        logs = i * math.log(y) - y - log_factorial
    top = float(logs.max())
    total = math.exp(top + math.log(float(np.exp(logs - top).sum())))
    return min(1.0, (math.erfc(math.sqrt(y)) if odd else 0.0) + total)
