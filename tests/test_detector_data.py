"""The detector's data: boxes are the tight boxes of their instance masks, before and after augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dr_sim.datasets.generate import generate
from dr_sim.datasets.torch_dataset import ShardDataset
from dr_sim.detection.labels import class_matcher, truth_from_labels
from dr_sim.errors import ConfigError
from dr_sim.policies.detector_data import (
    NO_CLASS,
    AugmentConfig,
    DetectionData,
    DetectionDataset,
    detection_sample,
    load_detection_data,
    move,
)
from dr_sim.scene.labels import mask_box

SIZE = 96
COUNT = 16
CLASSES = ["duck", "teddy", "mug", "shape"]
GENERATOR = {
    "env": "dr_sim/Detect-v0",
    "randomization": "none",
    "image_size": SIZE,
    "shard_size": 8,
    "objects": [f"{name}_{k}" for name in CLASSES for k in range(2)],
    "visibility": "none",
}
STRONG = AugmentConfig(flip=0.5, shift=0.4, scale=[0.6, 1.6], blur=0.5)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("detect_data")
    generate(GENERATOR, folder, COUNT, export=["coco"], progress=False)
    return folder


@pytest.fixture(scope="module")
def data(root: Path) -> DetectionData:
    return load_detection_data(root, CLASSES)


def sorted_rows(boxes: np.ndarray, classes: np.ndarray) -> list[tuple[float, ...]]:
    return sorted((*map(float, box), int(c)) for box, c in zip(boxes, classes, strict=True))


def test_boxes_are_the_labelled_objects_of_the_classes(root: Path, data: DetectionData) -> None:
    labels = [ShardDataset(root)[i]["labels"] for i in range(COUNT)]
    truth = truth_from_labels(labels, class_matcher(CLASSES))
    assert len(data) == COUNT
    assert data.image_size == SIZE
    for i, expected in enumerate(truth):
        sample = data.sample(i)
        assert sorted_rows(sample.boxes, sample.classes) == sorted_rows(expected.boxes, expected.classes)
    only_ducks = load_detection_data(root, ["duck"])
    assert all(set(only_ducks.sample(i).classes) <= {0} for i in range(COUNT))
    assert sum(len(only_ducks.sample(i).boxes) for i in range(COUNT)) == sum(int((t.classes == 0).sum()) for t in truth)


def test_augmented_boxes_are_the_tight_boxes_of_their_masks(data: DetectionData) -> None:
    dataset = DetectionDataset(data, np.arange(COUNT), STRONG, seed=3)
    moved = lost = 0
    for epoch in range(2):
        dataset.set_epoch(epoch)
        for i in range(COUNT):
            sample = dataset[i]
            classes = data.instance_classes[i]
            assert sample.rgb.shape == (SIZE, SIZE, 3)
            assert sample.instance.shape == (SIZE, SIZE)
            for box, cls, j, pixels in zip(sample.boxes, sample.classes, sample.instances, sample.pixels, strict=True):
                mask = sample.instance == j
                assert box.tolist() == mask_box(mask)
                assert cls == classes[j] != NO_CLASS
                assert pixels == mask.sum()
            seen = {int(j) for j in np.unique(sample.instance) if classes[j] != NO_CLASS}
            assert seen == set(sample.instances.tolist())  # every object still in view has its box
            original = data.sample(i)
            moved += sorted_rows(sample.boxes, sample.classes) != sorted_rows(original.boxes, original.classes)
            lost += len(sample.boxes) < len(original.boxes)
    assert moved > COUNT
    assert lost > 0


def test_a_flip_and_an_integer_shift_move_every_pixel_and_box_exactly(data: DetectionData) -> None:
    i = max(range(COUNT), key=lambda n: len(data.sample(n).boxes))
    original = data.sample(i)
    for dx, dy in ((3, -2), (-40, 25)):
        rgb, instance = move(original.rgb, original.instance, flip=True, shift=(dx, dy))
        mirrored = original.rgb[:, ::-1]
        rows = slice(max(dy, 0), SIZE + min(dy, 0))
        cols = slice(max(dx, 0), SIZE + min(dx, 0))
        source = (slice(max(-dy, 0), SIZE - max(dy, 0)), slice(max(-dx, 0), SIZE - max(dx, 0)))
        np.testing.assert_array_equal(rgb[rows, cols], mirrored[source])
        sample = detection_sample(rgb, instance, data.instance_classes[i])
        found = dict(zip(sample.instances.tolist(), sample.boxes.tolist(), strict=True))
        for box, j in zip(original.boxes, original.instances, strict=True):
            y, x = np.nonzero(original.instance == j)
            x, y = SIZE - 1 - x + dx, y + dy  # where each of its pixels lands
            inside = (x >= 0) & (x < SIZE) & (y >= 0) & (y < SIZE)
            if not inside.any():
                assert j not in found  # left the image: dropped
                continue
            expected = [x[inside].min(), y[inside].min(), x[inside].max() + 1, y[inside].max() + 1]
            assert found[j] == [float(v) for v in expected]
            if inside.all():  # the labelled box, mirrored and shifted
                x0, y0, x1, y1 = box.tolist()
                assert found[j] == [SIZE - x1 + dx, y0 + dy, SIZE - x0 + dx, y1 + dy]


def test_augmentation_draws_from_seed_epoch_and_index_only(data: DetectionData) -> None:
    first = DetectionDataset(data, np.arange(COUNT), STRONG, seed=5)
    second = DetectionDataset(data, np.arange(COUNT)[::-1], STRONG, seed=5)
    a, b = first[2], second[COUNT - 3]  # the same image through another row order
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    second.set_epoch(1)
    assert not np.array_equal(a.rgb, second[COUNT - 3].rgb)


def test_resizing_keeps_boxes_on_their_masks(root: Path, data: DetectionData) -> None:
    large = load_detection_data(root, CLASSES, 128)
    assert large.rgb.shape == (COUNT, 128, 128, 3)
    for i in range(COUNT):
        sample, native = large.sample(i), data.sample(i)
        for box, j in zip(sample.boxes, sample.instances, strict=True):
            assert box.tolist() == mask_box(sample.instance == j)
        assert set(sample.instances.tolist()) <= set(native.instances.tolist())
        for j, box in zip(sample.instances, sample.boxes, strict=True):
            np.testing.assert_allclose(box, native.boxes[native.instances == j][0] * 128 / SIZE, atol=2.0)


def test_a_coco_export_is_read_through_its_shards(root: Path, data: DetectionData, tmp_path: Path) -> None:
    for path in (root / "coco", root / "coco" / "annotations.json"):
        again = load_detection_data(path, CLASSES)
        np.testing.assert_array_equal(again.rgb, data.rgb)
        np.testing.assert_array_equal(again.instance, data.instance)
    with pytest.raises(ConfigError, match="is not a data set of 'dr-sim generate'"):
        load_detection_data(tmp_path, CLASSES)


def test_a_class_the_data_set_lacks_is_one_clear_error(root: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_detection_data(root, ["duck", "giraffe"])
    message = str(error.value)
    assert "'giraffe'" in message
    assert str(root) in message
    assert "duck_0" in message
    assert load_detection_data(root, ["giraffe"], require_classes=False).sample(0).boxes.shape == (0, 4)
