"""COCO box AP of a detector, the way the field reports it, with bootstrap intervals over images.

``coco_scores(truth, detections, class_names)`` reports pycocotools' standard box metrics (at most 100
detections an image and class):

- ``ap``: AP averaged over IoU thresholds 0.50:0.05:0.95 (COCO's headline "AP"), over the classes;
- ``ap50``, ``ap75``: AP at IoU 0.50 (PASCAL VOC's) and 0.75;
- ``ap_small``, ``ap_medium``, ``ap_large``: AP of objects of area < 32², 32²-96² and > 96² px²
  (COCO's fixed thresholds, whatever the image size: in images of 96-160 px most objects are small);
- ``per_class``: each class's AP (IoU 0.50:0.95, all areas).

Each value is an ``Estimate``: ``value`` in [0, 1], ``None`` where COCO reports -1 (no ground truth of
that class or size: an average over nothing), and ``interval``: a percentile bootstrap interval over
images. Each of ``bootstrap`` resamples draws N images with replacement from the N evaluated (a
``numpy.random.default_rng(seed)`` Generator); an image drawn twice counts twice, as two images. The
images are matched once (``COCOeval.evaluate``); each resample only accumulates their records again
(``dr_sim.detection.accumulate``, exactly what pycocotools gives on the resampled set). A resample in
which a metric is undefined (no small object drawn, say) is left out of that metric's interval.

Object areas for the size buckets: see ``dr_sim.detection.coco_eval``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.detection.accumulate import class_records, precision_table
from dr_sim.detection.boxes import (
    Detections,
    ImageBoxes,
    check_class_names,
    check_class_range,
    paired,
)
from dr_sim.detection.coco_eval import evaluate_coco
from dr_sim.errors import ConfigError

#: (field of DetectionScores, its row in ``format``, COCO's area range label, IoU threshold or None: all).
SUMMARY: tuple[tuple[str, str, str, float | None], ...] = (
    ("ap", "AP (IoU 0.50:0.95)", "all", None),
    ("ap50", "AP50", "all", 0.5),
    ("ap75", "AP75", "all", 0.75),
    ("ap_small", "AP small (< 32² px²)", "small", None),
    ("ap_medium", "AP medium (32²-96² px²)", "medium", None),
    ("ap_large", "AP large (> 96² px²)", "large", None),
)


@dataclass(frozen=True)
class Estimate:
    """A metric's value (None: undefined, COCO's -1) and its bootstrap interval (None: no resamples, or
    undefined)."""

    value: float | None
    interval: tuple[float, float] | None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "interval": None if self.interval is None else list(self.interval)}

    def cells(self) -> tuple[str, str]:
        """(value, interval) as text, three decimals; ``n/a`` and ``-`` when undefined."""
        value = "n/a" if self.value is None else f"{self.value:.3f}"
        interval = "-" if self.interval is None else f"[{self.interval[0]:.3f}, {self.interval[1]:.3f}]"
        return value, interval


@dataclass(frozen=True)
class DetectionScores:
    """COCO box AP of a detector on a set of images (see the module docstring); values in [0, 1].

    Attributes:
        ap, ap50, ap75, ap_small, ap_medium, ap_large: COCO's summary APs.
        per_class: class name -> its AP (IoU 0.50:0.95).
        objects_per_class: class name -> its ground-truth boxes.
        images, objects, detections: counts of the evaluated set.
        bootstrap: resamples of the intervals (0: none); confidence: their coverage (0.95).
    """

    ap: Estimate
    ap50: Estimate
    ap75: Estimate
    ap_small: Estimate
    ap_medium: Estimate
    ap_large: Estimate
    per_class: dict[str, Estimate]
    objects_per_class: dict[str, int]
    images: int
    objects: int
    detections: int
    bootstrap: int
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: each metric ``{"value": float | None, "interval": [low, high] | None}``."""
        return {
            **{name: getattr(self, name).as_dict() for name, _, _, _ in SUMMARY},
            "per_class": {name: estimate.as_dict() for name, estimate in self.per_class.items()},
            "objects_per_class": dict(self.objects_per_class),
            "images": self.images,
            "objects": self.objects,
            "detections": self.detections,
            "bootstrap": self.bootstrap,
            "confidence": self.confidence,
        }

    def format(self) -> str:
        """An aligned text table: metric, value, interval; then the counts behind it."""
        rows = [(label, *getattr(self, name).cells()) for name, label, _, _ in SUMMARY]
        rows += [
            (f"AP {name} ({self.objects_per_class[name]} objects)", *estimate.cells())
            for name, estimate in self.per_class.items()
        ]
        header = ("metric", "value", f"{self.confidence:.0%} interval")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        ]
        source = f"bootstrap over images, {self.bootstrap} resamples" if self.bootstrap else "no intervals"
        lines.append(f"{self.images} images, {self.objects} objects, {self.detections} detections; {source}")
        return "\n".join(lines)


def coco_scores(
    truth: Sequence[ImageBoxes],
    detections: Sequence[Detections],
    class_names: Sequence[str],
    *,
    bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> DetectionScores:
    """COCO box AP of ``detections`` against ``truth``, with bootstrap intervals over images.

    Args:
        truth: the ground truth of each image (unique image ids).
        detections: one ``Detections`` per ground-truth image, matched by image id (any order; empty
            arrays for an image where the detector found nothing).
        class_names: the name of each class index.
        bootstrap: resamples of the images for the intervals; 0 for none.
        seed: seeds the resampling.
        confidence: coverage of the percentile intervals, in (0, 1).

    Raises:
        ConfigError: mismatched image ids, a class index outside 0..C-1, bad class names or bootstrap
            settings (bad boxes, scores and NaNs are refused when ``ImageBoxes`` and ``Detections`` are made).
        MissingExtraError: pycocotools is not installed.
    """
    if bootstrap < 0 or not 0 < confidence < 1:
        raise ConfigError(f"bootstrap must be >= 0 and confidence in (0, 1), got {bootstrap} and {confidence}")
    check_class_names(class_names)
    ordered = paired(truth, detections)
    check_class_range([*truth, *ordered], len(class_names))
    evaluation = evaluate_coco(truth, ordered, class_names)
    records = class_records(evaluation)
    selectors = summary_selectors(evaluation.params)
    recall_thresholds = evaluation.params.recThrs
    point = summary_values(precision_table(records, np.arange(len(truth)), recall_thresholds), selectors)
    draws = np.random.default_rng(seed).integers(0, len(truth), size=(bootstrap, len(truth)))
    resampled = np.array([summary_values(precision_table(records, d, recall_thresholds), selectors) for d in draws])
    resampled = resampled.reshape(bootstrap, len(point))
    estimates = [
        Estimate(None if np.isnan(value) else float(value), _interval(value, resampled[:, j], confidence))
        for j, value in enumerate(point)
    ]
    per_class = dict(zip(class_names, estimates[len(SUMMARY) :], strict=True))
    counts = np.bincount(np.concatenate([image.classes for image in truth]), minlength=len(class_names))
    return DetectionScores(
        **{name: estimate for (name, _, _, _), estimate in zip(SUMMARY, estimates[: len(SUMMARY)], strict=True)},
        per_class=per_class,
        objects_per_class={name: int(count) for name, count in zip(class_names, counts, strict=True)},
        images=len(truth),
        objects=int(counts.sum()),
        detections=sum(len(image.scores) for image in ordered),
        bootstrap=bootstrap,
        confidence=confidence,
    )


def summary_selectors(params: Any) -> list[tuple[int, slice | int]]:
    """(area range index, IoU threshold index or slice) of each ``SUMMARY`` metric in COCO's ``params``."""
    selectors: list[tuple[int, slice | int]] = []
    for _, _, area, iou in SUMMARY:
        iou_index: slice | int = slice(None) if iou is None else int(np.flatnonzero(np.isclose(params.iouThrs, iou))[0])
        selectors.append((params.areaRngLbl.index(area), iou_index))
    return selectors


def summary_values(precision: np.ndarray, selectors: Sequence[tuple[int, slice | int]]) -> np.ndarray:
    """The ``SUMMARY`` metrics, then each class's AP, of a (K, A, T, R) precision table (NaN: undefined)."""
    summary = [_mean(precision[:, area, iou]) for area, iou in selectors]
    return np.array(summary + [_mean(precision[k, 0]) for k in range(len(precision))])


def _mean(values: np.ndarray) -> float:
    """Mean of the defined values (COCO's mean over entries > -1); NaN when none is."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def _interval(value: float, resampled: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The percentile interval of the defined resampled values; None when ``value`` or all of them are undefined."""
    defined = resampled[~np.isnan(resampled)]
    if np.isnan(value) or defined.size == 0:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    return float(low), float(high)
