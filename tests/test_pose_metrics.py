"""Pose metrics on hand-made cases, and subpixel peaks of belief maps."""

from __future__ import annotations

import numpy as np
import pytest

from dr_sim.pose.keypoints import extract_peaks, gaussian_maps, refine_peak
from dr_sim.pose.metrics import (
    add,
    add_s,
    auc,
    diameter,
    pose_metrics,
    rotation_error_deg,
    summarize,
    translation_error,
)


def _pose(rotation: np.ndarray | None = None, translation: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    pose = np.eye(4)
    if rotation is not None:
        pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _cylinder(radius: float = 0.03, height: float = 0.04, around: int = 36) -> np.ndarray:
    """Points on a cylinder about z, symmetric under rotations of 360/around degrees."""
    angles = np.arange(around) * 2 * np.pi / around
    ring = np.column_stack([radius * np.cos(angles), radius * np.sin(angles)])
    return np.vstack([np.column_stack([ring, np.full(around, z)]) for z in (-height / 2, 0.0, height / 2)])


CUBE = np.array([[x, y, z] for x in (-0.02, 0.02) for y in (-0.02, 0.02) for z in (-0.02, 0.02)])


def test_a_known_offset_gives_the_known_add() -> None:
    truth = _pose(translation=(0.1, 0.0, 0.5))
    shifted = _pose(translation=(0.1, 0.03, 0.5))
    assert add(shifted, truth, CUBE) == pytest.approx(0.03)
    assert translation_error(shifted, truth) == pytest.approx(0.03)
    assert rotation_error_deg(shifted, truth) == pytest.approx(0.0, abs=1e-6)
    # A turn of 90 degrees about z moves each cube corner by sqrt(2) x its distance from the axis.
    turned = _pose(_rz(np.pi / 2), (0.1, 0.0, 0.5))
    assert add(turned, truth, CUBE) == pytest.approx(np.sqrt(2) * np.hypot(0.02, 0.02))
    assert rotation_error_deg(turned, truth) == pytest.approx(90.0)


def test_a_symmetric_object_turned_by_its_symmetry_has_add_s_zero() -> None:
    points = _cylinder()
    truth = _pose(translation=(0.0, 0.1, 0.6))
    turned = _pose(_rz(2 * np.pi / 36 * 5), (0.0, 0.1, 0.6))
    assert add_s(turned, truth, points) == pytest.approx(0.0, abs=1e-12)
    assert add(turned, truth, points) > 0.01  # ADD still sees the turn
    assert add_s(_pose(_rz(np.pi / 2), (0.0, 0.1, 0.6)), truth, CUBE) == pytest.approx(0.0, abs=1e-12)
    offset = _pose(translation=(0.0, 0.1 + 0.002, 0.6))
    assert 0 < add_s(offset, truth, points) <= add(offset, truth, points) == pytest.approx(0.002)


def test_diameter_and_auc() -> None:
    assert diameter(CUBE) == pytest.approx(0.04 * np.sqrt(3))
    assert auc(np.zeros(10)) == pytest.approx(1.0)
    assert auc([0.2, np.inf, np.nan]) == 0.0
    # Accuracy-threshold curve of errors 0 and 5 cm up to 10 cm: 1 from 5 cm on, 0.5 before: area 0.75.
    assert auc([0.0, 0.05]) == pytest.approx(0.75)
    grid = np.linspace(0.0, 0.1, 100_001)
    errors = np.random.default_rng(0).uniform(0, 0.15, 50)
    curve = (errors[None, :] <= grid[:, None]).mean(axis=1)
    assert auc(errors) == pytest.approx(np.trapezoid(curve, grid) / 0.1, abs=1e-4)


def test_pose_metrics_of_perfect_and_offset_estimates() -> None:
    truths = [_pose(_rz(a), (0.0, 0.0, 0.5)) for a in np.linspace(0, 1, 8)]
    perfect = pose_metrics(truths, truths, CUBE, seed=1)
    assert perfect["add_auc"]["mean"] == pytest.approx(1.0)
    assert perfect["add_accuracy"]["mean"] == 1.0
    assert perfect["translation_cm"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["score"] == "add"
    off = [t @ _pose(translation=(0.0, 0.0, 0.01)) for t in truths]  # 1 cm: more than 10 % of 6.9 cm
    scores = pose_metrics([*off[:-1], None], truths, CUBE, symmetric=True, seed=1)
    assert scores["score"] == "add_s"
    assert scores["add_cm"]["mean"] == pytest.approx(1.0)
    assert scores["add_cm"]["failed"] == 1
    assert scores["add_accuracy"]["mean"] == 0.0
    assert scores["add_auc"]["mean"] == pytest.approx(0.9 * 7 / 8)
    assert scores["add_cm"]["ci_low"] <= scores["add_cm"]["mean"] <= scores["add_cm"]["ci_high"]


def test_summarize_gives_a_seeded_bootstrap_interval() -> None:
    values = np.random.default_rng(0).normal(5.0, 1.0, 200)
    first = summarize(values, seed=2)
    assert first == summarize(values, seed=2)
    assert first["ci_low"] < first["mean"] < first["ci_high"]
    assert first["n"] == 200
    empty = summarize([np.inf])
    assert empty["mean"] is None
    assert empty["failed"] == 1


@pytest.mark.parametrize("stride", [1, 4])
def test_peaks_of_a_gaussian_are_found_to_subpixel(stride: int) -> None:
    rng = np.random.default_rng(7)
    uv = rng.uniform(10, 54, (9, 2))
    maps = gaussian_maps(uv, (64 // stride, 64 // stride), stride, sigma=1.5) * 0.8
    found, confidence = extract_peaks(maps, stride)
    assert np.abs(found - uv).max() < 0.05
    assert np.all((confidence > 0.5) & (confidence <= 0.8))


def test_peak_refinement_on_a_broad_gaussian_and_an_edge() -> None:
    rows, cols = np.mgrid[0:32, 0:32]
    belief = np.exp(-0.5 * (((cols - 12.3) / 3.0) ** 2 + ((rows - 20.8) / 3.0) ** 2))
    (u, v), peak = (x[0] for x in extract_peaks(belief))
    assert u - 0.5 == pytest.approx(12.3, abs=0.05)
    assert v - 0.5 == pytest.approx(20.8, abs=0.05)
    assert peak == pytest.approx(belief.max())
    edge = np.zeros((5, 5))
    edge[0, 0] = 1.0
    assert refine_peak(edge, 0, 0) == (0.0, 0.0)
