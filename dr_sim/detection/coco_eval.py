"""pycocotools' per-image box evaluation of ground truth and detections built in memory.

``evaluate_coco`` numbers the images 1..N in the order of the ground truth and the classes 1..C
(category id = class index + 1), builds COCO's ground-truth and result structures (no files), and runs
``COCOeval(iouType="bbox").evaluate()`` with its default parameters (IoU thresholds 0.50:0.05:0.95, 101
recall points, area ranges all / small < 32² / medium 32²-96² / large > 96² px², at most 100 detections
an image and class, the highest scores). pycocotools' prints are silenced.

Areas: a ground-truth object's ``area`` (COCO's size buckets) is ``ImageBoxes.object_areas()``: its mask
area when given, else its box area; a detection's is its box area (as pycocotools' ``loadRes``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from typing import Any

from dr_sim.detection.boxes import Detections, ImageBoxes, coco_bbox
from dr_sim.extras import require

PURPOSE = "COCO detection scoring"


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Swallow what pycocotools prints to stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def coco_images(truth: Sequence[ImageBoxes]) -> list[dict[str, Any]]:
    """COCO's ``images``: id = position in ``truth`` + 1."""
    return [{"id": i + 1, "width": image.width, "height": image.height} for i, image in enumerate(truth)]


def coco_categories(class_names: Sequence[str]) -> list[dict[str, Any]]:
    """COCO's ``categories``: id = class index + 1."""
    return [{"id": c + 1, "name": name} for c, name in enumerate(class_names)]


def ground_truth_annotations(truth: Sequence[ImageBoxes]) -> list[dict[str, Any]]:
    """COCO's ground-truth ``annotations``, ids from 1, none crowd."""
    annotations: list[dict[str, Any]] = []
    for i, image in enumerate(truth):
        for box, category, area in zip(image.boxes, image.classes, image.object_areas(), strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(category) + 1,
                    "bbox": coco_bbox(box),
                    "area": float(area),
                    "iscrowd": 0,
                }
            )
    return annotations


def result_annotations(detections: Sequence[Detections]) -> list[dict[str, Any]]:
    """COCO's results of ``detections`` (in ground-truth order) with the fields ``loadRes`` adds."""
    annotations: list[dict[str, Any]] = []
    for i, image in enumerate(detections):
        for box, score, category in zip(image.boxes, image.scores, image.classes, strict=True):
            bbox = coco_bbox(box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(category) + 1,
                    "bbox": bbox,
                    "score": float(score),
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    return annotations


def coco_set(images: list[dict[str, Any]], categories: list[dict[str, Any]], annotations: list[dict[str, Any]]) -> Any:
    """A pycocotools ``COCO`` object holding these structures, indexed."""
    coco = require("pycocotools.coco", PURPOSE).COCO()
    coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
    with silenced():
        coco.createIndex()
    return coco


def evaluate_coco(truth: Sequence[ImageBoxes], detections: Sequence[Detections], class_names: Sequence[str]) -> Any:
    """pycocotools' ``COCOeval`` after ``evaluate()`` (its ``evalImgs`` filled; not accumulated).

    ``detections[i]`` must be the detections of ``truth[i]`` (``dr_sim.detection.boxes.paired``).
    """
    cocoeval = require("pycocotools.cocoeval", PURPOSE)
    images, categories = coco_images(truth), coco_categories(class_names)
    ground_truth = coco_set(images, categories, ground_truth_annotations(truth))
    results = coco_set(images, categories, result_annotations(detections))
    evaluation = cocoeval.COCOeval(ground_truth, results, iouType="bbox")
    with silenced():
        evaluation.evaluate()
    return evaluation
