"""COCO's ``accumulate`` of per-image evaluation records, vectorised, for any resample of the images.

pycocotools' ``COCOeval.evaluate()`` matches detections to ground truth image by image (``evalImgs``):
an image's records depend on that image alone. A bootstrap resample of the images (an image drawn twice
counting twice, as if each draw were a new image with a fresh id) therefore has the records of its drawn
images, concatenated in draw order; ``precision_table`` accumulates them as ``COCOeval.accumulate()``
would for the maximum number of detections (100): the detections of a class sorted by score, highest
first (a stable sort: ties keep draw order, then COCO's order within the image), cumulative true and
false positives, precision made monotone from the right, and read at the 101 recall thresholds
(COCO's interpolated AP; 0 beyond the highest recall reached). The same float operations as pycocotools
give the same precisions to the bit; averages differ only in summation order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClassRecords:
    """The evaluation records of one class over the images, for ``A`` area ranges and ``T`` IoU thresholds.

    Detections are stored image after image, each image's in COCO's order (score descending, at most
    ``maxDets[-1]``).

    Attributes:
        starts: (I,) int, the first detection of each image.
        counts: (I,) int, each image's number of detections.
        scores: (D,) float.
        true_positive: (A, T, D) bool: matched to a ground-truth box, not ignored.
        false_positive: (A, T, D) bool: unmatched, not ignored.
        ground_truth: (A, I) int: each image's ground-truth boxes that are not ignored.
    """

    starts: np.ndarray
    counts: np.ndarray
    scores: np.ndarray
    true_positive: np.ndarray
    false_positive: np.ndarray
    ground_truth: np.ndarray


def class_records(evaluation: Any) -> list[ClassRecords]:
    """The records of each class of an evaluated ``COCOeval`` (after ``evaluate()``), in ``catIds`` order."""
    params = evaluation.params
    images, areas, thresholds = len(params.imgIds), len(params.areaRng), len(params.iouThrs)
    records = evaluation.evalImgs
    return [
        _one_class(records[k * areas * images : (k + 1) * areas * images], images, areas, thresholds)
        for k in range(len(params.catIds))
    ]


def _one_class(records: Sequence[dict[str, Any] | None], images: int, areas: int, thresholds: int) -> ClassRecords:
    """``records`` ordered area range by area range, image by image within each (as ``evalImgs``)."""
    first = records[:images]  # the detections and their order are the same in every area range
    counts = np.array([0 if e is None else len(e["dtScores"]) for e in first], dtype=np.int64)
    empty = np.zeros((thresholds, 0))
    matched = np.zeros((areas, thresholds, counts.sum()), dtype=bool)
    ignored = np.zeros_like(matched)
    ground_truth = np.zeros((areas, images), dtype=np.int64)
    for a in range(areas):
        block = records[a * images : (a + 1) * images]
        matched[a] = np.concatenate([empty if e is None else e["dtMatches"] for e in block], axis=1) != 0
        ignored[a] = np.concatenate([empty if e is None else e["dtIgnore"] for e in block], axis=1) != 0
        ground_truth[a] = [0 if e is None else np.count_nonzero(np.asarray(e["gtIgnore"]) == 0) for e in block]
    return ClassRecords(
        starts=np.cumsum(counts) - counts,
        counts=counts,
        scores=np.concatenate([[] if e is None else np.asarray(e["dtScores"], dtype=float) for e in first]),
        true_positive=matched & ~ignored,
        false_positive=~matched & ~ignored,
        ground_truth=ground_truth,
    )


def precision_table(records: Sequence[ClassRecords], draws: np.ndarray, recall_thresholds: np.ndarray) -> np.ndarray:
    """COCO's interpolated precision of the images ``draws`` (indices, repeats allowed, in draw order).

    Returns:
        (K, A, T, R) float: precision at each recall threshold of each class, area range and IoU threshold;
        NaN where the drawn images hold no ground truth of that class and area range (COCO's -1).
    """
    return np.stack([_class_precision(record, draws, recall_thresholds) for record in records])


def _class_precision(record: ClassRecords, draws: np.ndarray, recall_thresholds: np.ndarray) -> np.ndarray:
    counts = record.counts[draws]
    first_of_draw = np.cumsum(counts) - counts
    picked = np.repeat(record.starts[draws] - first_of_draw, counts) + np.arange(counts.sum())
    ordered = picked[np.argsort(-record.scores[picked], kind="stable")]
    areas, thresholds = record.true_positive.shape[:2]
    true_positive = record.true_positive[:, :, ordered].reshape(areas * thresholds, -1)
    false_positive = record.false_positive[:, :, ordered].reshape(areas * thresholds, -1)
    ground_truth = np.repeat(record.ground_truth[:, draws].sum(axis=1), thresholds)
    table = np.full((areas * thresholds, len(recall_thresholds)), np.nan)
    for row in np.flatnonzero(ground_truth):
        table[row] = interpolated_precision(
            true_positive[row], false_positive[row], ground_truth[row], recall_thresholds
        )
    return table.reshape(areas, thresholds, -1)


def interpolated_precision(
    true_positive: np.ndarray, false_positive: np.ndarray, ground_truth: int, recall_thresholds: np.ndarray
) -> np.ndarray:
    """COCO's precision at each recall threshold of one ranked detection list (as ``COCOeval.accumulate``).

    Args:
        true_positive, false_positive: (D,) bool, detections sorted by score, highest first.
        ground_truth: the number of ground-truth boxes not ignored (> 0).
        recall_thresholds: (R,) increasing recalls.

    Returns:
        (R,) the highest precision at any recall >= each threshold; 0 beyond the recall reached.
    """
    tp = np.cumsum(true_positive).astype(float)
    fp = np.cumsum(false_positive).astype(float)
    recall = tp / ground_truth
    precision = tp / (fp + tp + np.spacing(1))
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, recall_thresholds, side="left")
    result = np.zeros(len(recall_thresholds))
    reached = at < len(recall)
    result[reached] = envelope[at[reached]]
    return result
