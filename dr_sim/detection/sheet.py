"""A contact sheet of a detector's output: images with ground truth and detections drawn, as one PNG.

Each image is scaled up by a whole factor (nearest neighbour) until its shorter side is at least
``MIN_TILE_SIDE`` px, so that the text stays legible on 64-160 px images. Ground-truth boxes are 1 px
lines in ``TRUTH_COLOUR``; detections scoring at least the threshold are 2 px lines inside their box in
their class's colour (``class_colour``), labelled ``<class> <score>`` (black text on that colour) above
the box. The ground truth is drawn over the detection boxes, the labels over both; higher-scoring
detections over lower ones. A legend band of ``LEGEND_HEIGHT`` px heads the sheet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from dr_sim.detection.boxes import Detections, ImageBoxes, check_class_names, check_class_range, paired
from dr_sim.errors import ConfigError
from dr_sim.file_io import encode_png, make_contact_sheet, write_atomically

MIN_TILE_SIDE = 256  # px
LEGEND_HEIGHT = 24  # px
TRUTH_COLOUR = (255, 255, 255)  # RGB
#: RGB colours of the classes, in class order, repeating.
CLASS_COLOURS = (
    (255, 64, 64),
    (64, 160, 255),
    (255, 200, 0),
    (200, 80, 255),
    (0, 220, 160),
    (255, 128, 0),
    (255, 0, 200),
    (140, 255, 0),
)
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
TEXT_PAD = 2  # px around a label's text


def class_colour(class_index: int) -> tuple[int, int, int]:
    """The RGB colour of a class's detections."""
    return CLASS_COLOURS[class_index % len(CLASS_COLOURS)]


def tile_scale(height: int, width: int) -> int:
    """The whole factor an image of ``height`` x ``width`` px is scaled up by (1 when large enough)."""
    return max(1, math.ceil(MIN_TILE_SIDE / min(height, width)))


def detection_sheet(
    images: Sequence[np.ndarray],
    truth: Sequence[ImageBoxes],
    detections: Sequence[Detections],
    class_names: Sequence[str],
    path: str | Path,
    *,
    score_threshold: float = 0.3,
    columns: int = 6,
) -> Path:
    """Write a PNG grid of ``images`` with their ground truth and detections (see the module docstring).

    Args:
        images: RGB uint8 (H, W, 3) or grey (H, W), ``images[i]`` the image of ``truth[i]``, of its size.
        truth: the ground truth of each image.
        detections: one ``Detections`` per ground-truth image, matched by image id.
        class_names: the name of each class index.
        path: the PNG to write (atomically; missing folders are made).
        score_threshold: detections scoring below it are not drawn.
        columns: tiles per row (fewer when there are fewer images).

    Returns:
        ``path``. Tiles of images of different sizes are padded with black to the largest.
    """
    check_class_names(class_names)
    if len(images) != len(truth):
        raise ConfigError(f"{len(images)} images for {len(truth)} ground-truth images")
    if columns <= 0:
        raise ConfigError(f"columns must be positive, got {columns}")
    ordered = paired(truth, detections)
    check_class_range([*truth, *ordered], len(class_names))
    tiles = [
        draw_tile(_rgb(image, boxes), boxes, found, class_names, score_threshold)
        for image, boxes, found in zip(images, truth, ordered, strict=True)
    ]
    grid = make_contact_sheet(_padded(tiles), min(columns, len(tiles)))
    sheet = np.concatenate([legend(grid.shape[1], class_names, score_threshold), grid])
    path = Path(path)
    write_atomically(path, encode_png(sheet))
    return path


def draw_tile(
    image: np.ndarray, truth: ImageBoxes, detections: Detections, class_names: Sequence[str], score_threshold: float
) -> np.ndarray:
    """The image scaled up by ``tile_scale``, with its ground truth and detections drawn (RGB uint8)."""
    scale = tile_scale(*image.shape[:2])
    tile = np.ascontiguousarray(image.repeat(scale, axis=0).repeat(scale, axis=1))
    shown = np.flatnonzero(detections.scores >= score_threshold)
    shown = shown[np.argsort(detections.scores[shown], kind="stable")]  # the highest drawn last
    for i in shown:
        colour = class_colour(int(detections.classes[i]))
        left, top, right, bottom = _pixel_rectangle(detections.boxes[i], scale)
        for inset in (0, 1):
            cv2.rectangle(tile, (left + inset, top + inset), (right - inset, bottom - inset), colour, 1, cv2.LINE_8)
    for box in truth.boxes:
        left, top, right, bottom = _pixel_rectangle(box, scale)
        cv2.rectangle(tile, (left, top), (right, bottom), TRUTH_COLOUR, 1, cv2.LINE_8)
    for i in shown:
        c = int(detections.classes[i])
        left, top, _, _ = _pixel_rectangle(detections.boxes[i], scale)
        _label(tile, f"{class_names[c]} {detections.scores[i]:.2f}", (left, top), class_colour(c))
    return tile


def legend(width: int, class_names: Sequence[str], score_threshold: float) -> np.ndarray:
    """A black band ``LEGEND_HEIGHT`` px high and ``width`` px wide naming the colours (RGB uint8)."""
    band = np.zeros((LEGEND_HEIGHT, width, 3), np.uint8)
    entries = [("ground truth", TRUTH_COLOUR)]
    entries += [(name, class_colour(c)) for c, name in enumerate(class_names)]
    entries += [(f"(detections scoring >= {score_threshold:.2f})", TRUTH_COLOUR)]
    x = TEXT_PAD * 2
    baseline = (LEGEND_HEIGHT + _text_size("Ag")[1]) // 2
    for text, colour in entries:
        cv2.putText(band, text, (x, baseline), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)
        x += _text_size(text)[0] + 4 * TEXT_PAD
    return band


def _pixel_rectangle(box: np.ndarray, scale: int) -> tuple[int, int, int, int]:
    """The outermost pixels (left, top, right, bottom, inclusive) of a pixel-edge box on a tile ``scale``
    times the image's size."""
    x_min, y_min, x_max, y_max = (float(value) * scale for value in box)
    left, top = round(x_min), round(y_min)
    return left, top, max(left, round(x_max) - 1), max(top, round(y_max) - 1)


def _label(tile: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Black ``text`` on a ``colour`` background just above ``corner`` (inside the tile)."""
    text_width, text_height = _text_size(text)
    box_width, box_height = text_width + 2 * TEXT_PAD, text_height + 2 * TEXT_PAD
    left = min(max(corner[0], 0), max(tile.shape[1] - box_width, 0))
    top = min(max(corner[1] - box_height, 0), max(tile.shape[0] - box_height, 0))
    cv2.rectangle(tile, (left, top), (left + box_width - 1, top + box_height - 1), colour, cv2.FILLED)
    cv2.putText(
        tile, text, (left + TEXT_PAD, top + TEXT_PAD + text_height), FONT, FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA
    )


def _text_size(text: str) -> tuple[int, int]:
    """(width, height above the baseline) of ``text`` in the sheet's font (px)."""
    (width, height), _ = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
    return width, height


def _rgb(image: np.ndarray, truth: ImageBoxes) -> np.ndarray:
    """``image`` as RGB uint8 (grey repeated); one error when it is not of ``truth``'s size."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ConfigError(
            f"image {truth.image_id}: expected RGB uint8 (H, W, 3) or grey (H, W), got {image.dtype} {image.shape}"
        )
    if image.shape[:2] != (truth.height, truth.width):
        raise ConfigError(
            f"image {truth.image_id} is {image.shape[1]} x {image.shape[0]} px; its ground truth says "
            f"{truth.width} x {truth.height}"
        )
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


def _padded(tiles: list[np.ndarray]) -> list[np.ndarray]:
    """``tiles`` padded with black at the bottom and right to the largest height and width."""
    height = max(tile.shape[0] for tile in tiles)
    width = max(tile.shape[1] for tile in tiles)
    return [np.pad(tile, ((0, height - tile.shape[0]), (0, width - tile.shape[1]), (0, 0))) for tile in tiles]
