"""Render level of detail (``render_detail="low"|"full"``): the same physics, close silhouettes, exact replay."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest
from pybullet_utils.bullet_client import BulletClient

import dr_sim  # noqa: F401 (registers the tasks)
from dr_sim.errors import ConfigError
from dr_sim.scene.detail import MIN_ROBOT_IOU, loading_detail, reducible_links, visual_triangles

DETAILS = ("low", "full")


def make(env_id: str, detail: str, **kwargs):
    return gym.make(env_id, render_detail=detail, disable_env_checker=True, **kwargs).unwrapped


def rollout(detail: str, steps: int = 40) -> np.ndarray:
    """Joint states, end effector and cube of a seeded ``full`` rollout of PickAndPlace (state observations)."""
    env = make("dr_sim/PandaPickAndPlace-v0", detail, randomization="full")
    try:
        env.reset(seed=5)
        actions = np.random.default_rng(1).uniform(-1, 1, (steps, 4)).astype(np.float32)
        states = []
        for action in actions:
            env.step(action)
            angles, velocities = env.arm.joint_state()
            states.append(np.concatenate([angles, velocities, env.arm.ee_pose()[0], env.object_position()]))
        return np.array(states)
    finally:
        env.close()


def test_low_and_full_detail_give_bit_identical_state_trajectories():
    low, full = rollout("low"), rollout("full")
    assert np.array_equal(low, full)
    assert np.ptp(low[:, :7], axis=0).max() > 0.05  # the arm moved


def test_low_detail_keeps_collision_shapes_and_dynamics_and_draws_far_fewer_triangles():
    envs = {detail: make("dr_sim/PandaReach-v0", detail) for detail in DETAILS}
    try:
        bodies = {detail: (env.physics_client._client, env.arm.body) for detail, env in envs.items()}
        (low_client, low_body), (full_client, full_body) = bodies["low"], bodies["full"]
        for link in range(-1, p.getNumJoints(full_body, physicsClientId=full_client)):
            assert p.getCollisionShapeData(low_body, link, physicsClientId=low_client) == p.getCollisionShapeData(
                full_body, link, physicsClientId=full_client
            )
            assert p.getDynamicsInfo(low_body, link, physicsClientId=low_client) == p.getDynamicsInfo(
                full_body, link, physicsClientId=full_client
            )
        low, full = visual_triangles(low_client, low_body), visual_triangles(full_client, full_body)
        assert full > 100_000
        assert low < 4_000
        assert not reducible_links(low_client, low_body)
        assert len(reducible_links(full_client, full_body)) >= 8
        colors = {
            tuple(np.round(shape[7][:3], 2)) for shape in p.getVisualShapeData(low_body, physicsClientId=low_client)
        }
        assert (1.0, 1.0, 1.0) in colors
        assert min(map(sum, colors)) < 1.0
    finally:
        for env in envs.values():
            env.close()


def test_robot_segmentation_iou_between_details_is_at_least_the_documented_threshold():
    envs = {detail: make("dr_sim/PandaReach-v0", detail, image_size=84) for detail in DETAILS}
    rng = np.random.default_rng(0)
    try:
        for env in envs.values():
            env.reset(seed=0)
        ious = []
        for _ in range(4):
            angles = np.array(envs["low"].arm.spec.home) + rng.uniform(-0.5, 0.5, 7)
            masks = []
            for env in envs.values():
                for joint, angle in zip(env.arm.spec.joints, angles, strict=True):
                    env.physics_client.resetJointState(env.arm.body, joint, angle)
                frame = env.session.camera.render(env.session.scene.light, depth=False)
                masks.append(frame.body == env.arm.body)
            ious.append(np.count_nonzero(masks[0] & masks[1]) / np.count_nonzero(masks[0] | masks[1]))
        assert min(ious) >= MIN_ROBOT_IOU, ious
    finally:
        for env in envs.values():
            env.close()


@pytest.mark.parametrize("detail", DETAILS)
def test_replay_is_bit_identical_at_each_detail(detail):
    env = make("dr_sim/PandaReach-v0", detail, randomization="full", obs_type="rgb", image_size=48)
    try:
        first, info = env.reset(seed=3)
        actions = np.random.default_rng(2).uniform(-1, 1, (3, 3)).astype(np.float32)
        frames = [first["rgb"], *(env.step(action)[0]["rgb"] for action in actions)]
        env.reset(seed=99)  # another episode in between
        again, _ = env.reset(options={"randomization": info["randomization"]})
        replayed = [again["rgb"], *(env.step(action)[0]["rgb"] for action in actions)]
        for original, copy in zip(frames, replayed, strict=True):
            assert np.array_equal(original, copy)
    finally:
        env.close()


def test_an_unknown_render_detail_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"render_detail must be one of \('low', 'full'\), got 'medium'"):
        gym.make("dr_sim/PandaReach-v0", render_detail="medium")


def test_loading_detail_draws_a_third_party_load_in_low_detail_and_restores_pybullet():
    original = p.loadURDF
    client = BulletClient(connection_mode=p.DIRECT)
    try:
        with loading_detail("low"):
            low = client.loadURDF("franka_panda/panda.urdf", useFixedBase=True)
            module_low = p.loadURDF("franka_panda/panda.urdf", physicsClientId=client._client)
        full = client.loadURDF("franka_panda/panda.urdf", useFixedBase=True)
        assert visual_triangles(client._client, low) < 4_000
        assert visual_triangles(client._client, module_low) < 4_000
        assert visual_triangles(client._client, full) > 100_000
        assert p.loadURDF is original
        assert "loadURDF" not in vars(BulletClient)
    finally:
        client.disconnect()
    with pytest.raises(ConfigError, match="render_detail must be one of"), loading_detail("medium"):
        pass


@pytest.mark.parametrize("env_id", ["dr_sim/PandaReach-v0", "PandaReach-v3"])
def test_the_generator_renders_at_the_detail_its_config_names(env_id, tmp_path):
    """``render_detail`` is a generator key, recorded with the data set: a dr_sim task takes it as an
    option, a third-party env (panda-gym) loads its URDFs under ``loading_detail``; the arm's pixels differ
    between the details, and the rest of the frame's labels hold."""
    pytest.importorskip("panda_gym")
    from dr_sim.datasets.generate import generate
    from dr_sim.datasets.shards import read_shard, shard_path

    frames = {}
    for detail in DETAILS:
        config = {"env": env_id, "randomization": "none", "image_size": 64, "render_detail": detail}
        if env_id.startswith("dr_sim/"):
            config["objects"] = ["panda"]
        else:
            config.update(objects=["target"], visibility="none")
        root = tmp_path / detail
        generate(config, root, 2, progress=False)
        assert json.loads((root / "dataset.json").read_text())["config"]["render_detail"] == detail
        frames[detail] = read_shard(shard_path(root, 0))
    assert not np.array_equal(frames["low"].rgb, frames["full"].rgb)
    assert frames["low"].rgb.shape == frames["full"].rgb.shape
