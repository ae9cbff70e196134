"""Ground truth for detection from the labels of a ``dr-sim generate`` data set.

A shard stores one labels dict per image (``dr_sim.datasets.shards``): ``index``, ``camera``
(``width``, ``height``, px) and ``objects``, each with its ``name`` (``duck_0``, ``distractor3``), its
``box`` (pixel edges, ``None`` when no pixel of it is visible) and ``pixels`` (its visible pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dr_sim.detection.boxes import ImageBoxes, check_class_names
from dr_sim.errors import ConfigError


def class_matcher(class_names: Sequence[str]) -> Callable[[str], int | None]:
    """A function from a label's object name to its class index, or None when it is of no class.

    The name belongs to class ``c`` when it is ``c`` or ``c`` + ``_`` + digits (``duck_0`` is a
    ``duck``); a name equal to a class name wins over a shorter class it would also extend.
    """
    check_class_names(class_names)
    index = {name: i for i, name in enumerate(class_names)}

    def class_of(name: str) -> int | None:
        if name in index:
            return index[name]
        stem, _, number = name.rpartition("_")
        return index.get(stem) if number.isdigit() else None

    return class_of


def truth_from_labels(labels: Sequence[Mapping[str, Any]], class_of: Callable[[str], int | None]) -> list[ImageBoxes]:
    """The ground truth of each image's labels: the visible objects that ``class_of`` gives a class.

    Objects of no class (distractors, say) and objects with no visible pixel (``box`` None) are left
    out. Each object's area for COCO's size buckets is its visible pixels (``pixels``, px²), as in the
    ``area`` of ``dr_sim.datasets.coco``'s export and of COCO's own annotations (a mask area, smaller
    than the box's).

    Raises:
        ConfigError: a labels dict lacks a key that generated labels have.
    """
    return [_image_truth(image, class_of) for image in labels]


def _image_truth(image: Mapping[str, Any], class_of: Callable[[str], int | None]) -> ImageBoxes:
    try:
        kept = [(obj, class_of(obj["name"])) for obj in image["objects"] if obj["box"] is not None]
        kept = [(obj, c) for obj, c in kept if c is not None]
        return ImageBoxes(
            image_id=int(image["index"]),
            width=int(image["camera"]["width"]),
            height=int(image["camera"]["height"]),
            boxes=np.array([obj["box"] for obj, _ in kept], dtype=float).reshape(-1, 4),
            classes=np.array([c for _, c in kept], dtype=np.int64),
            areas=np.array([obj["pixels"] for obj, _ in kept], dtype=float),
        )
    except KeyError as error:
        where = f"image {image['index']}" if "index" in image else "an image"
        raise ConfigError(f"the labels of {where} have no {error.args[0]!r}: not labels of dr-sim generate") from None
