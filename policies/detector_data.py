"""A detector's images and boxes: a generated data set in memory, augmentations that keep boxes exact.

``load_detection_data(root, classes)`` reads a complete ``dr-sim generate`` data set folder (its shards,
``dr_sim.datasets.shards``; a folder's ``coco`` export, or that export's ``annotations.json``, is read
through the shards beside it) into memory: the RGB images, the instance maps (instance ``j + 1`` is entry
``j`` of the image's ``objects``) and each instance's class. An object belongs to class ``c`` when its
label's ``name`` is ``c`` or ``c`` followed by ``_<digits>`` (``duck_0``, ``duck_1``: ``duck``;
``dr_sim.detection.labels.class_matcher``); objects of no requested class are background, objects with
no visible pixel are left out. A data set in which a
requested class never occurs is one ``ConfigError`` naming the class and the object names it has.
``image_size`` resizes every image (RGB bilinear or area, instance maps nearest) to that square size.

Boxes are never read from the labels: every box is the tight box (``dr_sim.scene.labels.mask_box``, pixel
edges) of its instance mask, after any resize and augmentation, so boxes and masks agree by construction.
An object that leaves the image is dropped; a partly cropped one's box is that of its remaining pixels.

``DetectionDataset`` serves augmented items of some of the images; the augmentation of image ``i`` in
epoch ``e`` draws from ``numpy.random.default_rng([seed, e, i])`` (as ``ShardDataset``), never from a
global generator. Geometry (``AugmentConfig``): a random zoom (log-uniform in ``scale``; RGB bilinear,
the instance map nearest), a horizontal flip, then an integer shift of up to ``shift`` of the image side,
the image cropped and padded with black (background) back to its size; unlike
``dr_sim.datasets.augment.GeometricAugment`` it needs only the pixels and the masks, and a shift or a
flip moves every pixel exactly. Photometry: a per-channel gain (``color``), a Gaussian blur (``blur``
probability, ``blur_sigma`` px), then ``dr_sim.datasets.augment.PixelAugment`` (brightness, contrast,
noise); labels are untouched by these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from pydantic import Field, model_validator
from torch.utils.data import Dataset

from dr_sim.config.params import StrictModel
from dr_sim.datasets.augment import PixelAugment
from dr_sim.datasets.shards import (
    COCO_EXPORT,
    META_FILE,
    check_complete,
    iter_labels,
    read_meta,
    read_shard,
    shard_count,
    shard_path,
)
from dr_sim.detection.labels import class_matcher
from dr_sim.errors import ConfigError
from dr_sim.policies.detector_net import STRIDE, BatchTargets, encode_targets, stack_targets
from dr_sim.scene.labels import mask_box

NO_CLASS = -1  # an instance that belongs to no requested class (or the background)
NAMES_SHOWN = 20  # object names listed in the error of a missing class


# -- where the data are -------------------------------------------------------------------------------
def data_set_folder(path: str | Path) -> Path:
    """The ``dr-sim generate`` folder of ``path``: the folder itself, or the one holding the COCO export
    ``path`` names (``DIR/coco`` or ``DIR/coco/annotations.json``); one ``ConfigError`` otherwise."""
    path = Path(path)
    for folder in (path, path.parent, path.parent.parent):
        if (folder / META_FILE).is_file() and (folder == path or COCO_EXPORT in path.relative_to(folder).parts):
            return folder
    raise ConfigError(
        f"{str(path)!r} is not a data set of 'dr-sim generate' (a folder holding {META_FILE} and shards/, or its "
        f"{COCO_EXPORT}/ export beside them); a COCO folder without the shards it was exported from is not read"
    )


# -- the data set in memory ---------------------------------------------------------------------------
@dataclass
class DetectionData:
    """A data set's images in memory: ``rgb`` (N, H, W, 3) uint8, ``instance`` (N, H, W) uint8, ``index``
    (N,) the images' indices in the data set, and per image ``instance_classes`` (objects + 1,) int64:
    the class of each instance id (``NO_CLASS`` for 0, the background, and for other objects)."""

    root: Path
    classes: list[str]
    rgb: np.ndarray
    instance: np.ndarray
    index: np.ndarray
    instance_classes: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def image_size(self) -> int:
        """The images' side (px)."""
        return int(self.rgb.shape[1])

    def sample(self, i: int) -> DetectionSample:
        """Image ``i`` as it is, with its boxes."""
        return detection_sample(self.rgb[i], self.instance[i], self.instance_classes[i])


def _check_classes(root: Path, classes: Sequence[str], class_of: Callable[[str], int | None], names: set[str]) -> None:
    """One ``ConfigError`` naming the first class of ``classes`` that no visible object of ``names`` has."""
    found = {class_of(name) for name in names}
    for index, cls in enumerate(classes):
        if index not in found:
            shown = sorted(names)[:NAMES_SHOWN]
            more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
            raise ConfigError(
                f"class {cls!r}: no visible object of the data set {str(root)!r} is named {cls!r} or "
                f"'{cls}_<n>'; its objects are named {', '.join(shown) or '(none)'}{more}. "
                "Set 'classes' to names it has, or generate a data set with that object"
            )


def _resized(image: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return cv2.resize(image, (size, size), interpolation=interpolation)


def _class_index(class_of: Callable[[str], int | None], label: Mapping[str, Any]) -> int:
    """The class index of a visible object's label, else ``NO_CLASS``."""
    index = class_of(str(label["name"])) if label["box"] else None
    return NO_CLASS if index is None else index


def load_detection_data(
    root: str | Path, classes: Sequence[str], image_size: int | None = None, *, require_classes: bool = True
) -> DetectionData:
    """Read a complete data set (see the module docstring) into memory, resized to ``image_size`` px
    (``None``: as stored); with ``require_classes`` every class must occur (else one ``ConfigError``)."""
    root = data_set_folder(root)
    meta = read_meta(root)
    check_complete(root, meta)
    count, stored = int(meta["count"]), int(meta["image_size"])
    size = stored if image_size is None else image_size
    class_of = class_matcher(classes)
    if require_classes:
        names = {obj["name"] for _, labels in iter_labels(root, meta) for obj in labels["objects"] if obj["box"]}
        _check_classes(root, classes, class_of, names)
    rgb = np.empty((count, size, size, 3), dtype=np.uint8)
    instance = np.empty((count, size, size), dtype=np.uint8)
    index = np.empty(count, dtype=np.int64)
    instance_classes: list[np.ndarray] = []
    shrink = cv2.INTER_AREA if size < stored else cv2.INTER_LINEAR
    row = 0
    for shard in range(shard_count(count, int(meta["shard_size"]))):
        data = read_shard(shard_path(root, shard))
        for i, labels in enumerate(data.labels):
            rgb[row] = _resized(data.rgb[i], size, shrink)
            instance[row] = _resized(data.instance[i], size, cv2.INTER_NEAREST)
            index[row] = data.index[i]
            found = [_class_index(class_of, obj) for obj in labels["objects"]]
            instance_classes.append(np.array([NO_CLASS, *found], dtype=np.int64))
            row += 1
    return DetectionData(root, list(classes), rgb, instance, index, instance_classes)


# -- one sample ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DetectionSample:
    """One image and its objects: ``rgb`` (H, W, 3) uint8, ``instance`` (H, W) uint8, and per object
    ``boxes`` (n, 4) float32 ``[x_min, y_min, x_max, y_max]`` (pixel edges), ``classes`` (n,) int64,
    ``instances`` (n,) int64, its id in ``instance``, and ``pixels`` (n,) int64, its visible pixels."""

    rgb: np.ndarray
    instance: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    instances: np.ndarray
    pixels: np.ndarray


def detection_sample(rgb: np.ndarray, instance: np.ndarray, instance_classes: np.ndarray) -> DetectionSample:
    """The sample of an image and its instance map: a box for each instance of a class that has pixels."""
    pixels = np.bincount(instance.ravel(), minlength=len(instance_classes))[: len(instance_classes)]
    ids = np.flatnonzero((pixels > 0) & (instance_classes != NO_CLASS))
    boxes = [mask_box(instance == j) for j in ids]
    return DetectionSample(
        rgb,
        instance,
        np.array(boxes, dtype=np.float32).reshape(-1, 4),
        instance_classes[ids],
        ids.astype(np.int64),
        pixels[ids].astype(np.int64),
    )


# -- augmentation -------------------------------------------------------------------------------------
class AugmentConfig(StrictModel):
    """Augmentations that keep boxes exact (see the module docstring for each key and its unit)."""

    flip: float = Field(default=0.5, ge=0, le=1)
    shift: float = Field(default=0.15, ge=0, le=1)
    scale: list[float] = Field(default_factory=lambda: [0.8, 1.25], min_length=2, max_length=2)
    color: float = Field(default=0.1, ge=0, le=1)
    blur: float = Field(default=0.2, ge=0, le=1)
    blur_sigma: list[float] = Field(default_factory=lambda: [0.5, 1.2], min_length=2, max_length=2)
    brightness: float = Field(default=0.1, ge=0, le=1)
    contrast: list[float] = Field(default_factory=lambda: [0.8, 1.2], min_length=2, max_length=2)
    noise: float = Field(default=0.02, ge=0, le=1)

    @model_validator(mode="after")
    def _ranges(self) -> AugmentConfig:
        for key in ("scale", "blur_sigma", "contrast"):
            low, high = getattr(self, key)
            if not 0 < low <= high:
                raise ValueError(f"{key} must be [low, high] with 0 < low <= high, got {[low, high]}")
        return self


def place(image: np.ndarray, top: int, left: int, shape: tuple[int, int]) -> np.ndarray:
    """``image`` put with its top-left pixel at (``top``, ``left``) (px, may be negative) on a black
    canvas of ``shape`` (height, width): cropped where it sticks out, zeros where it does not reach."""
    out = np.zeros((*shape, *image.shape[2:]), dtype=image.dtype)
    rows = slice(max(top, 0), min(top + image.shape[0], shape[0]))
    cols = slice(max(left, 0), min(left + image.shape[1], shape[1]))
    if rows.start < rows.stop and cols.start < cols.stop:
        out[rows, cols] = image[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    return out


def move(
    rgb: np.ndarray, instance: np.ndarray, *, scale: float = 1.0, flip: bool = False, shift: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, instance) zoomed by ``scale`` about the centre (RGB bilinear, instance nearest), mirrored
    left-right when ``flip``, then shifted by ``shift`` (x, y) integer px, at the original size."""
    height, width = instance.shape
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        instance = cv2.resize(instance, size, interpolation=cv2.INTER_NEAREST)
    if flip:
        rgb, instance = rgb[:, ::-1], instance[:, ::-1]
    top = (height - instance.shape[0]) // 2 + shift[1]
    left = (width - instance.shape[1]) // 2 + shift[0]
    return place(rgb, top, left, (height, width)), place(instance, top, left, (height, width))


def recolor(rgb: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` with a random per-channel gain in [1 - color, 1 + color], a Gaussian blur (probability
    ``blur``) and ``PixelAugment``'s brightness, contrast and noise."""
    gains = rng.uniform(1.0 - config.color, 1.0 + config.color, 3)
    rgb = np.clip(np.rint(rgb.astype(np.float32) * gains), 0, 255).astype(np.uint8)
    sigma = rng.uniform(config.blur_sigma[0], config.blur_sigma[1])
    if rng.random() < config.blur:
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
    pixels = PixelAugment(config.brightness, (config.contrast[0], config.contrast[1]), config.noise)
    return pixels({"rgb": rgb}, rng)["rgb"]


def augment(
    rgb: np.ndarray, instance: np.ndarray, instance_classes: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> DetectionSample:
    """One random augmentation (see the module docstring) of an image and its instance map, with the
    boxes of the moved masks."""
    height, width = instance.shape
    scale = math.exp(rng.uniform(math.log(config.scale[0]), math.log(config.scale[1])))
    flip = bool(rng.random() < config.flip)
    reach = np.array([round(config.shift * width), round(config.shift * height)])
    dx, dy = (int(v) for v in rng.integers(-reach, reach + 1))
    rgb, instance = move(rgb, instance, scale=scale, flip=flip, shift=(dx, dy))
    return detection_sample(recolor(rgb, config, rng), instance, instance_classes)


# -- the torch data set -------------------------------------------------------------------------------
class DetectionDataset(Dataset[DetectionSample]):
    """Items ``data[rows[i]]``, augmented by ``augment`` (``None``: as they are) from
    ``default_rng([seed, epoch, data index])``; call ``set_epoch`` each epoch for new draws."""

    def __init__(
        self, data: DetectionData, rows: np.ndarray, augment: AugmentConfig | None = None, seed: int = 0
    ) -> None:
        self.data, self.rows = data, np.asarray(rows, dtype=np.int64)
        self.augment, self.seed, self.epoch = augment, seed, 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Draw new augmentations from now on (epoch ``epoch``)."""
        self.epoch = epoch

    def __getitem__(self, item: int) -> DetectionSample:
        i = int(self.rows[item])
        if self.augment is None:
            return self.data.sample(i)
        rng = np.random.default_rng([self.seed, self.epoch, int(self.data.index[i])])
        return augment(self.data.rgb[i], self.data.instance[i], self.data.instance_classes[i], self.augment, rng)


def collate(samples: Sequence[DetectionSample], num_classes: int) -> tuple[torch.Tensor, BatchTargets]:
    """(images (B, 3, H, W) uint8, their CenterNet targets on the (H / 4, W / 4) map)."""
    images = torch.from_numpy(np.stack([s.rgb for s in samples])).permute(0, 3, 1, 2).contiguous()
    shape = (images.shape[-2] // STRIDE, images.shape[-1] // STRIDE)
    targets = [encode_targets(s.boxes, s.classes, num_classes, shape, STRIDE) for s in samples]
    return images, stack_targets(targets)
