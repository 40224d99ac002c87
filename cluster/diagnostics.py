"""How likely is the best result of a search luck? Two standard answers.

- Deflated Sharpe Ratio (Bailey & López de Prado, 2014): the probability that
  the selected strategy's true Sharpe is above zero, after correcting for the
  number of trials searched, their spread of Sharpe ratios, and the skewness
  and kurtosis of the selected returns.
- Probability of Backtest Overfitting by combinatorially symmetric
  cross-validation (Bailey, Borwein, López de Prado & Zhu, 2015): split the
  per-bar returns of every candidate into S blocks; for each way of taking half
  the blocks as in-sample, pick the in-sample best and see where it ranks out of
  sample; PBO is the share of splits where it ranks below the median.

Sharpe ratios here are per bar (not annualised), as in the papers.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """The Sharpe the best of ``n_trials`` skill-less trials reaches by luck (SR0)."""
    if n_trials <= 1 or sharpe_variance <= 0:
        return 0.0
    a = _N.inv_cdf(1.0 - 1.0 / n_trials)
    b = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b)


def deflated_sharpe(returns: np.ndarray, n_trials: int, sharpe_variance: float) -> dict[str, float]:
    """Deflated Sharpe Ratio of the selected strategy.

    Args:
        returns: the selected strategy's per-bar returns.
        n_trials: how many candidates the search evaluated.
        sharpe_variance: variance of the candidates' per-bar Sharpe ratios.

    Returns:
        ``{"dsr", "sharpe", "sr0", "skew", "kurtosis", "n_obs"}``; ``dsr`` is a
        probability (close to 1: unlikely to be luck). NaN when undefined.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    t = len(r)
    nan = float("nan")
    if t < 3 or np.std(r) == 0:
        return {"dsr": nan, "sharpe": nan, "sr0": nan, "skew": nan, "kurtosis": nan, "n_obs": t}
    mu, sd = float(np.mean(r)), float(np.std(r, ddof=1))
    sr = mu / sd
    z = (r - mu) / float(np.std(r))
    skew = float(np.mean(z**3))
    kurt = float(np.mean(z**4))
    sr0 = expected_max_sharpe(n_trials, sharpe_variance)
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    dsr = _N.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(denom)) if denom > 0 else nan
    return {"dsr": dsr, "sharpe": sr, "sr0": sr0, "skew": skew, "kurtosis": kurt, "n_obs": t}


def _sharpe(s1: np.ndarray, s2: np.ndarray, n: np.ndarray) -> np.ndarray:
    mean = s1 / n
    var = (s2 - s1 * mean) / np.maximum(n - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / np.sqrt(np.maximum(var, 0))
    return np.where(np.isfinite(out), out, -np.inf)


def probability_of_overfitting(
    returns: np.ndarray, blocks: int = 16, max_splits: int = 20_000, seed: int = 0
) -> dict[str, float]:
    """PBO by CSCV over a ``[n_bars, n_candidates]`` matrix of per-bar returns.

    Args:
        returns: per-bar returns, one column per candidate (NaN counts as 0).
        blocks: S, the even number of contiguous blocks the bars are split into.
        max_splits: if C(S, S/2) exceeds this, a seeded random subset of splits is used.

    Returns:
        ``{"pbo", "splits", "median_logit"}``.
    """
    m = np.nan_to_num(np.asarray(returns, dtype=np.float64))
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("PBO needs a [n_bars, n_candidates] matrix with at least 2 candidates")
    if blocks < 2 or blocks % 2 or m.shape[0] < 2 * blocks:
        raise ValueError(f"PBO needs an even number of blocks >= 2 and >= 2 bars per block, got S={blocks}")
    edges = np.linspace(0, m.shape[0], blocks + 1).astype(int)
    s1 = np.stack([m[a:b].sum(axis=0) for a, b in zip(edges[:-1], edges[1:])])
    s2 = np.stack([(m[a:b] ** 2).sum(axis=0) for a, b in zip(edges[:-1], edges[1:])])
    cnt = np.diff(edges).astype(np.float64)[:, None]
    combos = list(itertools.combinations(range(blocks), blocks // 2))
    if len(combos) > max_splits:
        pick = np.random.default_rng(seed).choice(len(combos), max_splits, replace=False)
        combos = [combos[i] for i in sorted(pick)]
    mask = np.zeros((len(combos), blocks))
    for i, c in enumerate(combos):
        mask[i, list(c)] = 1.0
    n_cand = m.shape[1]
    logits = np.empty(len(combos))
    step = max(1, 2_000_000 // n_cand)
    for lo in range(0, len(combos), step):
        mk = mask[lo : lo + step]
        is_sr = _sharpe(mk @ s1, mk @ s2, mk @ cnt)
        oos = 1.0 - mk
        oos_sr = _sharpe(oos @ s1, oos @ s2, oos @ cnt)
        best = np.argmax(is_sr, axis=1)
        best_oos = oos_sr[np.arange(len(best)), best]
        rank = (oos_sr < best_oos[:, None]).sum(axis=1) + 0.5 * ((oos_sr == best_oos[:, None]).sum(axis=1) - 1) + 1
        w = rank / (n_cand + 1)
        logits[lo : lo + step] = np.log(w / (1 - w))
    return {"pbo": float(np.mean(logits <= 0)), "splits": float(len(combos)), "median_logit": float(np.median(logits))}
