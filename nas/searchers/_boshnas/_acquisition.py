"""Acquisition values over predicted targets (losses scaled to [0, 1], lower is better)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

_SQRT_2PI = np.sqrt(2.0 * np.pi)
# Chebyshev augmentation for more than two objectives (ParEGO's rho).
_RHO = 0.05


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """E[max(0, best - Y)] for Y ~ N(mean, sd^2), elementwise."""
    sd = np.maximum(sd, 1e-9)
    z = (best - mean) / sd
    return (best - mean) * ndtr(z) + sd * np.exp(-0.5 * z**2) / _SQRT_2PI


def nondominated(points: np.ndarray) -> np.ndarray:
    """The rows of ``points`` (n, k) that no other row weakly dominates with one strict <."""
    if len(points) < 2:
        return points
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    dominated = (le & lt).any(axis=0)
    return np.unique(points[~dominated], axis=0)


def hypervolume_improvement(samples: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Hypervolume each sample adds to ``front`` (reference point 1 in every objective).

    Args:
        samples: (..., k) points.
        front: (m, k) non-dominated points (may be empty).

    Two objectives are exact: the front is a staircase and a sample's gain is the area under
    it and above the sample. With more objectives the gain is the improvement of an augmented
    Chebyshev scalarisation with equal weights over the front's best (ParEGO-like).
    """
    k = samples.shape[-1]
    flat = np.minimum(samples.reshape(-1, k), 1.0)
    if k != 2:
        def scal(p):
            return p.max(axis=1) + _RHO * p.sum(axis=1)

        best = scal(front).min() if len(front) else scal(np.ones((1, k)))[0]
        return np.maximum(0.0, best - scal(flat)).reshape(samples.shape[:-1])
    front = front[np.argsort(front[:, 0])] if len(front) else np.zeros((0, 2))
    # Segments [left_j, right_j) of the staircase with height h_j (1 before the first point).
    left = np.concatenate([[-np.inf], front[:, 0]])
    right = np.concatenate([front[:, 0], [1.0]])
    height = np.concatenate([[1.0], np.minimum.accumulate(front[:, 1])])
    x, y = flat[:, :1], flat[:, 1:]
    widths = np.maximum(0.0, right[None, :] - np.maximum(left[None, :], x))
    gains = np.maximum(0.0, height[None, :] - y)
    return (widths * gains).sum(axis=1).reshape(samples.shape[:-1])
