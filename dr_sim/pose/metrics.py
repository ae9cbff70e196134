"""The pose metrics the field uses, per image and summarised with bootstrap intervals.

Per image (poses are 4x4 object-to-camera or object-to-world transforms, both of one frame; model points
(N, 3) in the object frame, m):

- ``translation_error``: distance (m) between the estimated and true object origins;
- ``rotation_error_deg``: the angle (degrees) of the rotation between the estimated and true rotations;
- ``add``: the mean distance (m) between the model points moved by the estimate and by the truth
  (Hinterstoisser et al. 2012);
- ``add_s``: the mean distance (m) from each point moved by the estimate to the closest point moved by
  the truth, for symmetric objects (a symmetry of the object gives 0).

Over a set:

- accuracy at ``ACCURACY_FRACTION`` (10 %) of the object's ``diameter`` (the largest distance between
  two of its model points): the fraction of images whose ADD (or ADD-S) is below it;
- ``auc``: the ADD (or ADD-S) AUC of PoseCNN / YCB-Video (Xiang et al. 2018): the area under the
  accuracy-threshold curve for thresholds from 0 to ``AUC_MAX_THRESHOLD_M`` (10 cm), divided by that
  range, so it lies in [0, 1] (1: every error is 0). Computed exactly: the area of the step curve is
  the mean over images of ``max(0, 1 - error / 10 cm)``.

``summarize`` gives n, mean, median and the percentile bootstrap 95 % interval of the mean
(``dr_sim.statistics.bootstrap_interval``, seeded); ``pose_metrics`` all of the above for a set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dr_sim.statistics import bootstrap_interval

ACCURACY_FRACTION = 0.1  # of the object's diameter
AUC_MAX_THRESHOLD_M = 0.1
CHUNK = 512  # points per block of the closest-point search


def translation_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Distance (m) between the translations of two 4x4 poses."""
    return float(np.linalg.norm(np.asarray(estimate)[:3, 3] - np.asarray(truth)[:3, 3]))


def rotation_error_deg(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Angle (degrees, [0, 180]) of ``R_estimate^T R_truth`` for two 4x4 (or 3x3) poses."""
    relative = np.asarray(estimate)[:3, :3].T @ np.asarray(truth)[:3, :3]
    cosine = np.clip((np.trace(relative) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine)))


def transform_points(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 3) moved by a 4x4 pose."""
    pose = np.asarray(pose, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ pose[:3, :3].T + pose[:3, 3]


def add(estimate: np.ndarray, truth: np.ndarray, points: np.ndarray) -> float:
    """ADD (m): the mean distance between corresponding model points under the two poses."""
    return float(np.linalg.norm(transform_points(estimate, points) - transform_points(truth, points), axis=1).mean())


def add_s(estimate: np.ndarray, truth: np.ndarray, points: np.ndarray) -> float:
    """ADD-S (m): the mean distance from each model point under ``estimate`` to the closest model point
    under ``truth`` (exact search, in blocks)."""
    moved, target = transform_points(estimate, points), transform_points(truth, points)
    closest = np.empty(len(moved))
    for start in range(0, len(moved), CHUNK):
        block = moved[start : start + CHUNK]
        squared = ((block[:, None, :] - target[None, :, :]) ** 2).sum(axis=2)
        closest[start : start + CHUNK] = np.sqrt(squared.min(axis=1))
    return float(closest.mean())


def diameter(points: np.ndarray) -> float:
    """The largest distance (m) between two model points (exact, in blocks)."""
    points = np.asarray(points, dtype=np.float64)
    largest = 0.0
    for start in range(0, len(points), CHUNK):
        block = points[start : start + CHUNK]
        largest = max(largest, float(((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=2).max()))
    return float(np.sqrt(largest))


def auc(errors_m: Sequence[float] | np.ndarray, max_threshold_m: float = AUC_MAX_THRESHOLD_M) -> float:
    """The area under the accuracy-threshold curve for thresholds 0..``max_threshold_m`` (m), normalised
    to [0, 1] (see the module docstring); non-finite errors (failed estimates) count as misses."""
    errors = np.asarray(errors_m, dtype=np.float64)
    if errors.size == 0:
        raise ValueError("an AUC needs at least one error")
    return float(auc_terms(errors, max_threshold_m).mean())


def auc_terms(errors_m: np.ndarray, max_threshold_m: float = AUC_MAX_THRESHOLD_M) -> np.ndarray:
    """Each image's share of the AUC: ``max(0, 1 - error / max_threshold_m)`` (their mean is the AUC)."""
    errors = np.asarray(errors_m, dtype=np.float64)
    return np.where(np.isfinite(errors), np.clip(1.0 - errors / max_threshold_m, 0.0, 1.0), 0.0)


def summarize(values: Sequence[float] | np.ndarray, seed: int = 0, scale: float = 1.0) -> dict[str, Any]:
    """``n``, ``mean``, ``median`` and the bootstrap 95 % interval of the mean (``ci_low``, ``ci_high``)
    of ``values`` times ``scale``; non-finite values are left out and counted (``failed``); ``None``
    statistics when none is left."""
    array = np.asarray(values, dtype=np.float64) * scale
    finite = array[np.isfinite(array)]
    result: dict[str, Any] = {"n": int(finite.size), "failed": int(array.size - finite.size)}
    if finite.size == 0:
        return {**result, "mean": None, "median": None, "ci_low": None, "ci_high": None}
    low, high = bootstrap_interval(finite, seed=seed)
    return {**result, "mean": float(finite.mean()), "median": float(np.median(finite)), "ci_low": low, "ci_high": high}


def pose_metrics(
    estimates: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    points: np.ndarray,
    symmetric: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of a set of pose estimates (4x4, ``None`` or NaN-filled for a failed estimate) against
    the truths, with bootstrap intervals: ``translation_cm``, ``rotation_deg``, ``add_cm``, ``add_s_cm``,
    ``add_accuracy`` and ``add_s_accuracy`` (at 10 % of the diameter), ``add_auc`` and ``add_s_auc``
    (up to 10 cm), the ``diameter_m``, and ``score``: ``add_s`` for a ``symmetric`` object, else ``add``
    (which of the two is the object's headline). A failed estimate counts as a miss in accuracies and
    AUCs and is left out (counted as ``failed``) of the error means."""
    points = np.asarray(points, dtype=np.float64)
    size = diameter(points)
    rows = []
    for estimate, truth in zip(estimates, truths, strict=True):
        if estimate is None or not np.all(np.isfinite(estimate)):
            rows.append((np.inf, np.inf, np.inf, np.inf))
            continue
        rows.append(
            (
                translation_error(estimate, truth),
                rotation_error_deg(estimate, truth),
                add(estimate, truth, points),
                add_s(estimate, truth, points),
            )
        )
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    threshold = ACCURACY_FRACTION * size
    result: dict[str, Any] = {
        "images": len(table),
        "diameter_m": size,
        "score": "add_s" if symmetric else "add",
        "translation_cm": summarize(table[:, 0], seed, 100.0),
        "rotation_deg": summarize(table[:, 1], seed),
        "add_cm": summarize(table[:, 2], seed, 100.0),
        "add_s_cm": summarize(table[:, 3], seed, 100.0),
    }
    for name, column in (("add", 2), ("add_s", 3)):
        result[f"{name}_accuracy"] = (
            summarize((table[:, column] < threshold).astype(np.float64), seed) if len(table) else None
        )
        result[f"{name}_auc"] = summarize(auc_terms(table[:, column]), seed) if len(table) else None
    return result
