"""Object-detection evaluation the way the field does it: COCO box AP with bootstrap intervals, and a sheet.

- ``boxes``: ``ImageBoxes`` (ground truth of one image) and ``Detections`` (a detector's output on one),
  pixel-edge boxes ``[x_min, y_min, x_max, y_max]``, checked;
- ``labels``: ground truth from the labels of a ``dr-sim generate`` data set (``truth_from_labels``,
  ``class_matcher``);
- ``metrics``: ``coco_scores``, pycocotools' AP, AP50, AP75, AP by size and per class, each with a
  bootstrap interval over images (``DetectionScores``);
- ``coco_eval`` and ``accumulate``: the in-memory COCO evaluation and its vectorised re-accumulation;
- ``sheet``: ``detection_sheet``, a PNG grid of images with ground truth and detections drawn.

numpy, OpenCV and pycocotools only (no torch); pycocotools is imported when scores are computed.
"""

from dr_sim.detection.boxes import Detections, ImageBoxes
from dr_sim.detection.labels import class_matcher, truth_from_labels
from dr_sim.detection.metrics import DetectionScores, Estimate, coco_scores
from dr_sim.detection.sheet import detection_sheet

__all__ = [
    "DetectionScores",
    "Detections",
    "Estimate",
    "ImageBoxes",
    "class_matcher",
    "coco_scores",
    "detection_sheet",
    "truth_from_labels",
]
