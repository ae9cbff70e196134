"""The detection sheet (dr_sim.detection.sheet): size, colours where the boxes are, input checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dr_sim.detection import Detections, ImageBoxes, detection_sheet
from dr_sim.detection.sheet import LEGEND_HEIGHT, TRUTH_COLOUR, class_colour, tile_scale
from dr_sim.errors import ConfigError

NAMES = ["duck", "mug"]
SIDE = 64  # px, the images' side
GAP = 2  # px between tiles: make_contact_sheet's default
UNKNOWN_CLASS = Detections(1, [[0, 0, 1, 1]], [1], [2])  # the detections of image 1, of a third class


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def scene(count: int) -> tuple[list[np.ndarray], list[ImageBoxes], list[Detections]]:
    """Black images; each with one ground-truth duck at [8, 8, 24, 24], a mug found at [40, 40, 60, 60]
    (score 0.9) and a duck below the threshold at [40, 8, 60, 24] (score 0.1)."""
    images = [np.zeros((SIDE, SIDE, 3), np.uint8) for _ in range(count)]
    truth = [ImageBoxes(i, SIDE, SIDE, np.array([[8, 8, 24, 24]]), np.array([0])) for i in range(count)]
    detections = [Detections(i, [[40, 40, 60, 60], [40, 8, 60, 24]], [0.9, 0.1], [1, 0]) for i in range(count)]
    return images, truth, detections


def test_sheet_size_and_box_colours(tmp_path: Path) -> None:
    images, truth, detections = scene(3)
    path = detection_sheet(images, truth, detections, NAMES, tmp_path / "out" / "sheet.png")
    assert path == tmp_path / "out" / "sheet.png"
    assert [p.name for p in path.parent.iterdir()] == ["sheet.png"]  # no temporary file left
    sheet = read_rgb(path)
    scale = tile_scale(SIDE, SIDE)
    tile = SIDE * scale
    assert scale == 4
    assert sheet.shape == (LEGEND_HEIGHT + tile + 2 * GAP, 3 * (tile + GAP) + GAP, 3)  # 3 images: 3 columns
    first = sheet[LEGEND_HEIGHT + GAP :, GAP:][:tile, :tile]

    def at(x: float, y: float) -> tuple[int, ...]:
        """The first tile's colour at image pixel (x, y) scaled."""
        return tuple(first[round(y * scale), round(x * scale)])

    assert at(8, 16) == at(16, 8) == at(24 - 1 / scale, 16) == TRUTH_COLOUR  # the box's outermost pixels
    assert at(16, 16) == (0, 0, 0)
    mug = class_colour(1)
    assert at(40, 50) == at(40 + 1 / scale, 50) == at(60 - 1 / scale, 50) == mug  # 2 px inside the box
    assert at(40 + 2 / scale, 50) == (0, 0, 0)
    assert (first[: 40 * scale, 40 * scale : 60 * scale] == mug).all(axis=2).any()  # its label, above it
    duck = class_colour(0)
    assert at(40, 16) == (0, 0, 0)  # the duck scoring 0.1 is not drawn
    assert not (first == duck).all(axis=2).any()
    assert sheet[:LEGEND_HEIGHT].any()  # the legend's text


def test_grey_images_of_different_sizes_and_columns(tmp_path: Path) -> None:
    images, truth, detections = scene(7)
    images[6] = np.zeros((32, 48), np.uint8)
    truth[6] = ImageBoxes(6, 48, 32, np.zeros((0, 4)), np.zeros(0, int))
    detections[6] = Detections(6, np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    sheet = read_rgb(detection_sheet(images, truth, detections[::-1], NAMES, tmp_path / "s.png", columns=4))
    assert tile_scale(32, 48) == 8  # 32 x 48 px to 256 x 384, the 64 x 64 px to 256 x 256: tiles of 256 x 384
    assert sheet.shape == (LEGEND_HEIGHT + 2 * (256 + GAP) + GAP, 4 * (384 + GAP) + GAP, 3)
    assert not sheet[-256 - GAP :, 2 * (384 + GAP) :].any()  # the 8th cell of 2 rows of 4 is empty


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda images, truth, detections: (images[:1], truth, detections), "1 images for 2"),
        (lambda images, truth, detections: ([images[0][:32], images[1]], truth, detections), "is 64 x 32 px"),
        (lambda images, truth, detections: (images, truth, detections[:1]), "1 missing"),
        (lambda images, truth, detections: (images, truth, [detections[0], UNKNOWN_CLASS]), "outside 0..1"),
        (lambda images, truth, detections: ([i.astype(float) for i in images], truth, detections), "RGB uint8"),
    ],
)
def test_bad_inputs(tmp_path: Path, change, message: str) -> None:
    images, truth, detections = change(*scene(2))
    with pytest.raises(ConfigError, match=message):
        detection_sheet(images, truth, detections, NAMES, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
