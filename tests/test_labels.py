"""Labels are exact: boxes enclose masks, keypoints land on the object, depth matches the pose."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.scene.labels import (
    box_corners,
    local_box,
    mask_box,
    object_label,
    project_points,
    semantic_map,
    unoccluded_pixels,
)


@pytest.fixture
def localize() -> gym.Env:
    env = gym.make("dr_sim/Localize-v0", randomization="full", image_size=96).unwrapped
    yield env
    env.close()


def target_label(env, seed: int):
    env.reset(seed=seed)
    camera, body = env.session.camera, env.sim_bodies["object"]
    frame = camera.render(env.session.scene.light)
    low, high = local_box(camera.client_id, body)
    shown = [b for b in env.distractor_bodies if b in set(np.unique(frame.body).tolist())]
    label = object_label(
        camera, frame, "object", body, 1, box_corners(low, high), unoccluded_pixels(camera, body, shown)
    )
    return env, frame, label, (low, high)


def test_local_box_of_the_cube_is_its_size(localize) -> None:
    localize.reset(seed=0)
    low, high = local_box(localize.session.camera.client_id, localize.sim_bodies["object"])
    np.testing.assert_allclose(high - low, localize.target_spec.size, atol=2e-3)  # PyBullet pads AABBs slightly
    np.testing.assert_allclose(low + high, 0.0, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_box_encloses_mask_and_keypoints_hug_the_object(localize, seed: int) -> None:
    env, frame, label, _ = target_label(localize, seed)
    mask = frame.body == label.body
    assert label.pixels == mask.sum() > 0
    x0, y0, x1, y1 = label.box
    rows, cols = np.nonzero(mask)
    assert cols.min() == x0
    assert cols.max() + 1 == x1
    assert rows.min() == y0
    assert rows.max() + 1 == y1
    assert not mask[:, : int(x0)].any()
    assert not mask[: int(y0)].any()
    # The projected corners' hull contains every mask pixel centre (the box encloses the object).
    kx, ky = label.keypoints[:, 0], label.keypoints[:, 1]
    assert kx.min() - 0.6 <= cols.min() + 0.5
    assert cols.max() + 0.5 <= kx.max() + 0.6
    assert ky.min() - 0.6 <= rows.min() + 0.5
    assert rows.max() + 0.5 <= ky.max() + 0.6
    # The centre of the object projects onto one of its own pixels.
    centre_pixel, _ = project_points(env.session.camera, env.target_position()[None])
    u, v = np.floor(centre_pixel[0]).astype(int)
    assert mask[v - 1 : v + 2, u - 1 : u + 2].any()
    assert 0.0 < label.visibility <= 1.0


@pytest.mark.parametrize("seed", range(4))
def test_depth_at_the_top_face_centre_equals_its_distance_to_the_camera(localize, seed: int) -> None:
    env, frame, label, (_low, high) = target_label(localize, seed)
    top_centre = label.pose @ np.array([0.0, 0.0, high[2], 1.0])  # in the camera frame
    uvw = env.session.camera.intrinsics() @ top_centre[:3]
    u, v = (uvw[:2] / uvw[2]).astype(int)
    assert frame.body[v, u] == label.body
    # The pixel sees the top face near its centre: depth along z within a few mm of the face's.
    assert frame.depth[v, u] == pytest.approx(top_centre[2], abs=0.004)


def test_occluded_object_has_visibility_below_one(localize) -> None:
    env = localize
    env.reset(seed=0)
    camera, body = env.session.camera, env.sim_bodies["object"]
    # Put a distractor between the camera and the target.
    distractor = env.distractor_bodies[0]
    target = env.target_position()
    eye = camera.pose()[:3, 3]
    between = target + 0.25 * (eye - target)
    env.physics_client.resetBasePositionAndOrientation(distractor, between.tolist(), [0, 0, 0, 1])
    frame = camera.render(env.session.scene.light)
    whole = unoccluded_pixels(camera, body, [distractor])
    label = object_label(camera, frame, "object", body, 1, box_corners(*local_box(camera.client_id, body)), whole)
    assert label.visibility < 0.9
    # Parking for the silhouette render put the distractor back exactly.
    np.testing.assert_allclose(env.physics_client.getBasePositionAndOrientation(distractor)[0], between, atol=1e-9)


def test_mask_box_and_semantic_map() -> None:
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    assert mask_box(mask) == [2.0, 1.0, 5.0, 3.0]
    assert mask_box(np.zeros((3, 3), bool)) is None
    bodies = np.array([[-1, 0, 1], [2, 2, 7]])
    np.testing.assert_array_equal(semantic_map(bodies, {1: 3, 2: 1}), [[0, 0, 3], [1, 1, 0]])
