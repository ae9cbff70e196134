"""Augmentations move labels with the pixels: boxes, keypoints and K stay true after a warp."""

from __future__ import annotations

import numpy as np
import pytest

from dr_sim.datasets.augment import Compose, GeometricAugment, PixelAugment, affine_matrix, warp_sample
from dr_sim.datasets.generate import generate
from dr_sim.datasets.torch_dataset import ShardDataset
from dr_sim.errors import ConfigError
from dr_sim.scene.labels import mask_box

SIZE = 48
COUNT = 8
STRONG = GeometricAugment(max_shift=0.15, scale=(0.8, 1.25), max_rotation=30.0, flip_probability=0.5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> ShardDataset:
    root = tmp_path_factory.mktemp("augment")
    generate({"image_size": SIZE, "shard_size": COUNT, "seed": 11}, root, COUNT, progress=False)
    return ShardDataset(root)


def warps(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [STRONG.draw(rng, SIZE, SIZE) for _ in range(4)]


def centre_pixel(k: np.ndarray, pose: np.ndarray) -> tuple[int, int]:
    """The pixel (u, v) onto which K projects the object's origin (its centre), camera frame ``pose``."""
    uvw = k @ pose[:3, 3]
    u, v = np.floor(uvw[:2] / uvw[2]).astype(int)
    return int(u), int(v)


def test_boxes_enclose_the_warped_masks_exactly(dataset: ShardDataset) -> None:
    moved = 0
    for index in range(COUNT):
        sample = dataset[index]
        for affine in warps(index):
            warped = warp_sample(sample, affine)
            for j, label in enumerate(warped["labels"]["objects"]):
                mask = warped["instance"] == j + 1
                assert label["box"] == mask_box(mask)
                assert label["pixels"] == mask.sum()
                if label["visibility"] is not None:
                    assert 0 <= label["visibility"] <= 1
            moved += warped["labels"]["objects"][0]["box"] != sample["labels"]["objects"][0]["box"]
    assert moved > COUNT  # the warps really moved the target


def test_an_integer_shift_and_a_flip_move_every_pixel_exactly(dataset: ShardDataset) -> None:
    sample = dataset[0]
    shifted = warp_sample(sample, affine_matrix(SIZE, SIZE, shift=(3.0, -2.0)))
    for key in ("rgb", "depth", "instance", "semantic"):
        np.testing.assert_array_equal(shifted[key][:-2, 3:], sample[key][2:, :-3], err_msg=key)
        assert not shifted[key][:, :3].any()
    flipped = warp_sample(sample, affine_matrix(SIZE, SIZE, scale=-1.0))
    for key in ("rgb", "depth", "instance", "semantic"):
        np.testing.assert_array_equal(flipped[key], sample[key][:, ::-1], err_msg=key)
    x0, y0, x1, y1 = sample["labels"]["objects"][0]["box"]
    assert flipped["labels"]["objects"][0]["box"] == [SIZE - x1, y0, SIZE - x0, y1]
    keypoints = np.array(sample["labels"]["objects"][0]["keypoints"])
    np.testing.assert_allclose(
        flipped["labels"]["objects"][0]["keypoints"], np.c_[SIZE - keypoints[:, 0], keypoints[:, 1]]
    )


def test_keypoints_move_with_the_pixels(dataset: ShardDataset) -> None:
    checked = 0
    for index in range(COUNT):
        sample = dataset[index]
        keypoints = np.array(sample["labels"]["objects"][0]["keypoints"])
        # Mark each corner's pixel in a map that travels as the semantic map does (nearest).
        marks = np.zeros((SIZE, SIZE), np.uint8)
        pixels = np.floor(keypoints).astype(int)
        for i, (u, v) in enumerate(pixels):
            if 0 <= u < SIZE and 0 <= v < SIZE and (pixels == (u, v)).all(axis=1).sum() == 1:
                marks[v, u] = i + 1
        for affine in warps(100 + index):
            if np.linalg.det(affine[:2, :2]) < 1.0:  # shrinking may drop a one-pixel mark
                continue
            warped = warp_sample({**sample, "semantic": marks}, affine)
            moved = np.array(warped["labels"]["objects"][0]["keypoints"])
            for i in np.unique(marks[marks > 0]):
                rows, cols = np.nonzero(warped["semantic"] == i)
                if rows.size == 0:
                    continue  # warped out of the image
                centre = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
                assert np.linalg.norm(centre - moved[i - 1]) < 1.5, (index, i)
                checked += 1
    assert checked > 20


def test_the_new_k_projects_the_object_centre_onto_its_warped_mask(dataset: ShardDataset) -> None:
    checked = 0
    for index in range(COUNT):
        sample = dataset[index]
        for affine in warps(200 + index):
            warped = warp_sample(sample, affine)
            k, k_new = np.array(sample["labels"]["camera"]["K"]), np.array(warped["labels"]["camera"]["K"])
            for j, label in enumerate(sample["labels"]["objects"]):
                pose = np.array(label["pose"])
                u, v = centre_pixel(k, pose)
                if not (0 < u < SIZE - 1 and 0 < v < SIZE - 1 and sample["instance"][v, u] == j + 1):
                    continue  # the centre is not on the object's visible pixels to begin with
                u, v = centre_pixel(k_new, pose)
                if not (0 < u < SIZE - 1 and 0 < v < SIZE - 1):
                    continue
                assert (warped["instance"][v - 1 : v + 2, u - 1 : u + 2] == j + 1).any(), (index, j)
                checked += 1
    assert checked > 10


def test_pixel_augment_changes_colors_only_and_is_seeded(dataset: ShardDataset) -> None:
    sample = dataset[1]
    augment = PixelAugment(brightness=0.2, contrast=(0.5, 1.5), noise_std=0.05)
    a = augment(sample, np.random.default_rng(3))
    b = augment(sample, np.random.default_rng(3))
    np.testing.assert_array_equal(a["rgb"], b["rgb"])
    assert not np.array_equal(a["rgb"], sample["rgb"])
    assert a["rgb"].dtype == np.uint8
    for key in ("depth", "instance", "semantic"):
        np.testing.assert_array_equal(a[key], sample[key])
    assert a["labels"] == sample["labels"]


def test_dataset_augments_per_item_and_epoch(dataset: ShardDataset) -> None:
    augmented = ShardDataset(dataset.root, augment=Compose((STRONG, PixelAugment())), seed=4)
    first = augmented[2]
    np.testing.assert_array_equal(augmented[2]["rgb"], first["rgb"])
    augmented.set_epoch(1)
    assert not np.array_equal(augmented[2]["rgb"], first["rgb"])
    assert "augment" in first["labels"]
    np.testing.assert_array_equal(dataset[2]["rgb"], ShardDataset(dataset.root)[2]["rgb"])  # the cache is untouched


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GeometricAugment(scale=(0.0, 1.0)), "scale"),
        (lambda: GeometricAugment(max_shift=2.0), "max_shift"),
        (lambda: GeometricAugment(flip_probability=1.5), "flip_probability"),
        (lambda: PixelAugment(contrast=(1.2, 0.8)), "contrast"),
    ],
)
def test_bad_augmentation_settings_are_one_clear_error(make, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()
