"""Ground-truth boxes and a detector's output on one image, checked, and the checks across images.

Boxes are ``[x_min, y_min, x_max, y_max]`` in pixels at pixel edges: pixel (u, v) spans
[u, u + 1) x [v, v + 1), so a box holding exactly pixel (u, v) is ``[u, v, u + 1, v + 1]`` (the convention
of the generated labels and of ``dr_sim.datasets.coco``; COCO's own is the same). Classes are indices
0..C-1 into a list of class names. Every bad input ends in one ``ConfigError`` naming the image, the
box and what is wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dr_sim.errors import ConfigError


@dataclass(frozen=True, eq=False)
class ImageBoxes:
    """The ground truth of one image.

    Attributes:
        image_id: the image's id (a generated data set's image index); unique within an evaluation.
        width, height: the image's size (px).
        boxes: (n, 4) float, pixel-edge boxes (px).
        classes: (n,) int, class indices.
        areas: (n,) float or None: each object's area (px²) for COCO's size buckets, for example its
            visible pixels (the ``area`` of a COCO export); None: the box areas.
    """

    image_id: int
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    areas: np.ndarray | None = None

    def __post_init__(self) -> None:
        what = f"ground truth of image {self.image_id}"
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f"{what}: size {self.width} x {self.height} px is not positive")
        boxes = checked_boxes(self.boxes, what)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "classes", checked_classes(self.classes, len(boxes), what))
        if self.areas is not None:
            areas = checked_vector(self.areas, len(boxes), what, "areas")
            if np.any(areas < 0):
                raise ConfigError(f"{what}: area {int(np.argmax(areas < 0))} is negative")
            object.__setattr__(self, "areas", areas)

    def object_areas(self) -> np.ndarray:
        """(n,) float: ``areas`` when given, else the box areas (px²)."""
        return box_areas(self.boxes) if self.areas is None else self.areas


@dataclass(frozen=True, eq=False)
class Detections:
    """A detector's output on one image.

    Attributes:
        image_id: the id of the ground-truth image it belongs to.
        boxes: (m, 4) float, pixel-edge boxes (px).
        scores: (m,) float in [0, 1], the detector's confidence.
        classes: (m,) int, class indices.
    """

    image_id: int
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        what = f"detections of image {self.image_id}"
        boxes = checked_boxes(self.boxes, what)
        scores = checked_vector(self.scores, len(boxes), what, "scores")
        if np.any((scores < 0) | (scores > 1)):
            bad = int(np.argmax((scores < 0) | (scores > 1)))
            raise ConfigError(f"{what}: score {bad} is {scores[bad]:g}, outside [0, 1]")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "classes", checked_classes(self.classes, len(boxes), what))


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """(n,) areas (px²) of (n, 4) pixel-edge boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def coco_bbox(box: np.ndarray) -> list[float]:
    """COCO's ``[x, y, w, h]`` (px) of one pixel-edge box ``[x_min, y_min, x_max, y_max]``."""
    x_min, y_min, x_max, y_max = (float(value) for value in box)
    return [x_min, y_min, x_max - x_min, y_max - y_min]


def checked_boxes(boxes: np.ndarray, what: str) -> np.ndarray:
    """``boxes`` as an (n, 4) float array; one error for another shape, NaN or infinity, or a box
    whose maximum lies before its minimum."""
    array = np.asarray(boxes, dtype=float)
    if array.size == 0:
        array = array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ConfigError(f"{what}: boxes have shape {array.shape}, expected (n, 4) [x_min, y_min, x_max, y_max]")
    rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if rows.size:
        raise ConfigError(f"{what}: box {rows[0]} {array[rows[0]].tolist()} holds NaN or infinity")
    for axis, (low, high) in enumerate((("x_min", "x_max"), ("y_min", "y_max"))):
        rows = np.flatnonzero(array[:, axis + 2] < array[:, axis])
        if rows.size:
            raise ConfigError(f"{what}: box {rows[0]} {array[rows[0]].tolist()} has {high} < {low}")
    return array


def checked_vector(values: np.ndarray, count: int, what: str, name: str) -> np.ndarray:
    """``values`` as a (count,) finite float array; one error otherwise."""
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.shape != (count,):
        raise ConfigError(f"{what}: {array.size} {name} for {count} boxes")
    rows = np.flatnonzero(~np.isfinite(array))
    if rows.size:
        raise ConfigError(f"{what}: {name} {rows[0]} is {array[rows[0]]}")
    return array


def checked_classes(classes: np.ndarray, count: int, what: str) -> np.ndarray:
    """``classes`` as a (count,) int64 array of non-negative whole numbers; one error otherwise."""
    array = checked_vector(classes, count, what, "classes")
    rows = np.flatnonzero((array != np.round(array)) | (array < 0))
    if rows.size:
        raise ConfigError(f"{what}: class {rows[0]} is {array[rows[0]]:g}, not a class index")
    return array.astype(np.int64)


def check_class_names(class_names: Sequence[str]) -> None:
    """One error when ``class_names`` is empty or names a class twice."""
    if not class_names:
        raise ConfigError("class_names is empty: give the name of each class index")
    repeated = sorted(name for name, count in Counter(class_names).items() if count > 1)
    if repeated:
        raise ConfigError(f"class_names names {repeated[0]!r} more than once")


def check_class_range(images: Sequence[ImageBoxes | Detections], class_count: int) -> None:
    """One error when a class index of ``images`` is not in 0..class_count-1."""
    for image in images:
        rows = np.flatnonzero(image.classes >= class_count)
        if rows.size:
            kind = "ground truth" if isinstance(image, ImageBoxes) else "detections"
            raise ConfigError(
                f"{kind} of image {image.image_id}: class {rows[0]} is {image.classes[rows[0]]}, "
                f"outside 0..{class_count - 1} ({class_count} class names)"
            )


def paired(truth: Sequence[ImageBoxes], detections: Sequence[Detections]) -> list[Detections]:
    """The detections of each ground-truth image, in ``truth``'s order.

    Raises:
        ConfigError: no images, an image id twice in either sequence, or an image with ground truth and
            no detections (give it empty arrays) or the other way round.
    """
    if not truth:
        raise ConfigError("no ground-truth images to evaluate")
    truth_ids = _unique_ids([image.image_id for image in truth], "ground truth")
    by_id = dict(zip(_unique_ids([d.image_id for d in detections], "detections"), detections, strict=True))
    missing = [image_id for image_id in truth_ids if image_id not in by_id]
    extra = sorted(set(by_id) - set(truth_ids))
    if missing or extra:
        parts = [
            f"{len(ids)} {kind} (first: {ids[0]})" for kind, ids in (("missing", missing), ("extra", extra)) if ids
        ]
        raise ConfigError(
            f"the image ids of the detections differ from the ground truth's: {', '.join(parts)}; "
            f"give one Detections per ground-truth image (empty arrays when it found nothing)"
        )
    return [by_id[image_id] for image_id in truth_ids]


def _unique_ids(ids: list[int], kind: str) -> list[int]:
    seen: set[int] = set()
    for image_id in ids:
        if image_id in seen:
            raise ConfigError(f"{kind}: image id {image_id} appears more than once")
        seen.add(image_id)
    return ids
