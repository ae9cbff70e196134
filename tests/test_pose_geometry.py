"""The calibrated-camera pose path on exact labels: PnP, the world pose, the table (x, y), calibration error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dr_sim.datasets.config import GeneratorConfig
from dr_sim.datasets.source import ImageSource
from dr_sim.pose.calibration_error import CalibrationError, draw_calibration_error, perturb_pose
from dr_sim.pose.keypoints import CENTROID, OFFSET_UNIT, gaussian_maps, label_keypoints, label_model_points
from dr_sim.pose.metrics import rotation_error_deg, translation_error
from dr_sim.pose.pipeline import estimate_pose
from dr_sim.pose.pnp import solve_pnp, table_xy, world_pose

DUCK = {"target_mesh": "duck_vhacd.urdf", "target_rpy": [1.5708, 0.0, 0.0]}
IMAGES = range(6)


@pytest.fixture(scope="module", params=[{}, DUCK], ids=["cube", "duck"])
def labelled(request: pytest.FixtureRequest) -> Iterator[list[dict[str, Any]]]:
    """Labels of a few images rendered by the generator (full randomization: the camera moves)."""
    config = GeneratorConfig(env_kwargs=request.param, randomization="full", image_size=96, visibility="none")
    source = ImageSource(config)
    try:
        yield [source.render(i)[1] for i in IMAGES]
    finally:
        source.close()


def _camera(labels: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(labels["camera"]["K"]), np.asarray(labels["camera"]["pose"])


def test_pnp_on_exact_labels_recovers_the_pose(labelled: list[dict[str, Any]]) -> None:
    k0, _ = _camera(labelled[0])
    points = label_model_points(labelled[0]["objects"][0], k0)
    worst_t, worst_r = 0.0, 0.0
    for labels in labelled:
        k, camera_pose = _camera(labels)
        target = labels["objects"][0]
        truth = np.asarray(target["pose"])
        result = solve_pnp(points, label_keypoints(target, k), k)
        assert result.ok
        assert result.inliers.all()
        assert result.reprojection_error_px < 1e-3
        worst_t = max(worst_t, translation_error(result.matrix(), truth))
        worst_r = max(worst_r, rotation_error_deg(result.matrix(), truth))
        # Through the calibrated camera pose: the body's own world position (PyBullet's, not the label's
        # camera-frame pose), so the OpenGL render and the OpenCV frame of K and pose agree.
        in_world = world_pose(result.matrix(), camera_pose)
        np.testing.assert_allclose(in_world[:3, 3], target["position"], atol=1e-3)
    assert worst_t < 1e-3, f"translation error {worst_t * 1000:.4f} mm"
    assert worst_r < 0.1, f"rotation error {worst_r:.5f} deg"


def test_the_centroid_ray_cut_with_the_plane_gives_the_table_xy(labelled: list[dict[str, Any]]) -> None:
    worst = 0.0
    for labels in labelled:
        k, camera_pose = _camera(labels)
        target = labels["objects"][0]
        centroid = label_keypoints(target, k)[CENTROID]
        xy = table_xy(centroid, k, camera_pose, target["position"][2])
        worst = max(worst, float(np.linalg.norm(xy - np.asarray(target["position"][:2]))))
    assert worst < 1e-3, f"ray-plane error {worst * 1000:.4f} mm"


def _exact_outputs(keypoints: np.ndarray, cells: int, stride: int, corners: str) -> np.ndarray:
    """Network outputs drawn from exact keypoints: 9 belief maps, or (``corners`` = offsets) the
    centroid's map with empty corner maps, then the corners' offsets from the centroid in every cell."""
    maps = gaussian_maps(keypoints, (cells, cells), stride, sigma=1.0)
    if corners == "maps":
        return maps
    maps[:CENTROID] = 0.0
    offsets = (keypoints[:CENTROID] - keypoints[CENTROID]).reshape(-1) / OFFSET_UNIT
    return np.concatenate([maps, np.broadcast_to(offsets[:, None, None], (16, cells, cells))])


@pytest.mark.parametrize("corners", ["maps", "offsets"])
def test_exact_outputs_give_the_pose_through_keypoints_and_pnp(labelled: list[dict[str, Any]], corners: str) -> None:
    """Exact belief maps (peaks), or the centroid's map and exact corner offsets, give the pose."""
    stride = 4
    k0, _ = _camera(labelled[0])
    points = label_model_points(labelled[0]["objects"][0], k0)
    for labels in labelled:
        k, camera_pose = _camera(labels)
        target = labels["objects"][0]
        keypoints = label_keypoints(target, k)
        if not np.all((keypoints > 2 * stride) & (keypoints < 96 - 2 * stride)):
            continue  # a keypoint off the maps: no peak to find
        outputs = _exact_outputs(keypoints, 96 // stride, stride, corners)
        estimate = estimate_pose(outputs, points, k, camera_pose, target["position"][2], stride)
        np.testing.assert_allclose(estimate.keypoints, keypoints, atol=0.05)
        truth = camera_pose @ np.asarray(target["pose"])
        assert translation_error(estimate.world_pose, truth) < 5e-3
        assert np.linalg.norm(estimate.xy - truth[:2, 3]) < 2e-3


def test_ransac_drops_a_wrong_keypoint(labelled: list[dict[str, Any]]) -> None:
    labels = labelled[1]
    k, _ = _camera(labels)
    target = labels["objects"][0]
    points = label_model_points(target, k)
    keypoints = label_keypoints(target, k)
    keypoints[3] += [25.0, -18.0]  # a peak on something else
    result = solve_pnp(points, keypoints, k)
    assert result.ok
    assert not result.inliers[3]
    assert result.inliers.sum() == 8
    assert translation_error(result.matrix(), np.asarray(target["pose"])) < 1e-3
    low_confidence = solve_pnp(points, keypoints, k, confidence=np.r_[np.ones(3), 0.0, np.ones(5)], min_confidence=0.5)
    assert not low_confidence.inliers[3]
    assert solve_pnp(points[:3], keypoints[:3], k).ok is False  # too few keypoints


def test_calibration_error_has_the_asked_size_and_follows_the_seed() -> None:
    pose = np.eye(4)
    pose[:3, 3] = [0.5, 0.0, 0.7]
    error = draw_calibration_error(np.random.default_rng(3))
    moved = perturb_pose(pose, error)
    assert translation_error(moved, pose) == pytest.approx(0.005, abs=1e-12)
    assert rotation_error_deg(moved, pose) == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_array_equal(error, draw_calibration_error(np.random.default_rng(3)))
    assert not np.array_equal(error, draw_calibration_error(np.random.default_rng(4)))
    larger = draw_calibration_error(np.random.default_rng(3), CalibrationError(0.02, 2.0))
    assert rotation_error_deg(larger, np.eye(4)) == pytest.approx(2.0, abs=1e-9)
    with pytest.raises(ValueError, match="calibration error"):
        CalibrationError(-1.0, 0.5)


def test_a_degenerate_view_is_a_failed_estimate_not_an_error() -> None:
    """Keypoints all in one spot (a network that found nothing) leave PnP without a pose: the estimate says
    it failed, and scoring goes on (OpenCV's SQPnP raises on such points)."""
    points = np.random.default_rng(0).uniform(-0.03, 0.03, (9, 3))
    k = np.array([[80.0, 0.0, 32.0], [0.0, 80.0, 32.0], [0.0, 0.0, 1.0]])
    for ransac in (True, False):
        estimate = solve_pnp(points, np.full((9, 2), 20.0), k, np.ones(9), 0.1, ransac=ransac)
        assert not estimate.ok
