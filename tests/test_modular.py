"""The modular pipeline: a pose network's estimate replaces the object's true position in the state."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.errors import ConfigError
from dr_sim.policies.modular import PoseEstimator, make_modular_env, object_entries

torch = pytest.importorskip("torch")

ENV = "dr_sim/PuckPush-v0"


class Recording:
    """A real pose estimator that keeps what it saw and said (for the assertions)."""

    def __init__(self, estimator: PoseEstimator) -> None:
        self.estimator, self.image_size = estimator, estimator.image_size
        self.images: list[np.ndarray] = []
        self.estimates: list[np.ndarray] = []

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        self.images.append(np.array(rgb))
        self.estimates.append(self.estimator(rgb))
        return self.estimates[-1]


@pytest.fixture(scope="module")
def estimator(tmp_path_factory: pytest.TempPathFactory) -> PoseEstimator:
    """An untrained pose network (its estimates are arbitrary but deterministic) saved and loaded back."""
    from dr_sim.policies.pose_net import NetConfig, PoseNet, TargetScaler, save_checkpoint

    torch.manual_seed(0)
    net = PoseNet(NetConfig(channels=[8], keypoints=4, hidden=16, image_size=32))
    path = save_checkpoint(tmp_path_factory.mktemp("pose") / "model.pt", net, TargetScaler((0.0, 0.0), (0.1, 0.1)), {})
    return PoseEstimator(path)


def test_the_estimate_replaces_every_entry_the_true_position_fed(estimator: PoseEstimator) -> None:
    recording = Recording(estimator)
    env = make_modular_env(ENV, {}, "visual", recording)
    state_env = gym.make(ENV)
    try:
        assert set(env.observation_space.spaces) == set(state_env.observation_space.spaces)
        observation, info = env.reset(seed=3)
        assert env.observation_space.contains(observation)
        assert recording.images[-1].shape == (32, 32, 3)
        unwrapped = env.unwrapped
        steps = [(observation, info)]
        for _ in range(3):
            observation, _, _, _, info = env.step(np.array([0.5, -0.5], dtype=np.float32))
            steps.append((observation, info))
        true = unwrapped.object_position()[:2]
        tip, _ = unwrapped.pusher_state()
        estimate, previous = recording.estimates[-1], recording.estimates[-2]
        state = observation["observation"]
        np.testing.assert_allclose(state[4:6], estimate, atol=1e-6)
        np.testing.assert_allclose(state[6:8], (estimate - previous) / unwrapped.dt, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(state[8:10], estimate - state[0:2], atol=1e-6)
        np.testing.assert_allclose(observation["achieved_goal"][:2], estimate, atol=1e-6)
        np.testing.assert_allclose(state[0:2], tip, atol=1e-6)  # the tip's own entries stay true
        assert info["perception_error"] == pytest.approx(np.linalg.norm(estimate - true), abs=1e-6)
        np.testing.assert_allclose(steps[0][0]["observation"][6:8], 0.0)  # at rest at a reset
    finally:
        env.close()
        state_env.close()


def test_a_task_without_known_object_entries_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"supported: dr_sim/PuckPush-v0"):
        object_entries("dr_sim/PandaReach-v0")


def test_puck_range_widens_where_the_puck_starts() -> None:
    def starts(**kwargs: Any) -> np.ndarray:
        env = gym.make(ENV, **kwargs)
        try:
            return np.array([np.abs(env.reset(seed=seed)[0]["achieved_goal"][:2]).max() for seed in range(40)])
        finally:
            env.close()

    assert starts().max() <= 0.15
    assert starts(puck_range=0.25).max() > 0.2
    with pytest.raises(ConfigError, match=r"puck_range must be a half side in \(0, 0.25\] m"):
        gym.make(ENV, puck_range=0.4)
