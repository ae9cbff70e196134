"""An episode replays from ``info["randomization"]`` alone, start state included: an auto-reset episode
of a ``SubprocVecEnv`` (no seed to pass again) renders the same image and gives the same observation
when its record is handed to a fresh env, for every task and for a wrapped panda-gym env; and a wrapper
stacked on another records (and replays) the inner one's episode too."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import SubprocVecEnv

from dr_sim import ENV_IDS, DomainRandomization

SIZE = 32  # px
STEPS = 3  # per episode: short, so that the workers reset on their own within a few steps
PANDA_GYM = "PandaPush-v3"


def make(env_id: str) -> gym.Env[Any, Any]:
    """A task (or panda-gym's push, wrapped) under ``full``, RGB beside the state, episodes of ``STEPS``."""
    if env_id == PANDA_GYM:
        import panda_gym  # noqa: F401  (registers the id in the worker)

        return DomainRandomization(
            gym.make(env_id, max_episode_steps=STEPS), "full", obs_type="state+rgb", image_size=SIZE
        )
    import dr_sim  # noqa: F401  (registers the tasks in the worker)

    return gym.make(env_id, randomization="full", obs_type="state+rgb", image_size=SIZE, max_episode_steps=STEPS)


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[key], b[key]) for key in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


@pytest.mark.parametrize("env_id", [*ENV_IDS, PANDA_GYM])
def test_an_auto_reset_episode_replays_from_its_record_alone(env_id: str) -> None:
    if env_id == PANDA_GYM:
        pytest.importorskip("panda_gym", reason="pip install panda-gym")
    venv = SubprocVecEnv([functools.partial(make, env_id)])
    try:
        venv.seed(7)
        venv.reset()
        venv.action_space.seed(0)
        for _ in range(STEPS * 4):  # until the worker has reset on its own at least once
            observation, _, dones, _ = venv.step(np.array([venv.action_space.sample()]))
            if dones[0]:
                break
        assert dones[0]
        record = venv.reset_infos[0]["randomization"]  # the new episode's, drawn with no seed given
        started = {key: value[0] for key, value in observation.items()}
    finally:
        venv.close()
    fresh = make(env_id)
    try:
        replayed, info = fresh.reset(options={"randomization": record})
        assert info["randomization"] == record
        assert equal(replayed, started)  # the image and the state, start state included, bit for bit
    finally:
        fresh.close()


@pytest.mark.filterwarnings("error:the env changes dynamics itself")  # the inner wrapper is not the env
def test_a_stacked_wrapper_records_and_replays_the_inner_one() -> None:
    pytest.importorskip("panda_gym", reason="pip install panda-gym")
    import panda_gym  # noqa: F401

    def stacked() -> DomainRandomization:
        inner = DomainRandomization(gym.make(PANDA_GYM), "physics")
        return DomainRandomization(inner, "visual", obs_type="state+rgb", image_size=SIZE)

    env, again = stacked(), stacked()
    try:
        first, info = env.reset(seed=3)
        record = info["randomization"]
        assert "camera" in record
        assert "physics" in record["wrapped"]  # the inner wrapper's episode goes with the outer one
        env.reset()  # another episode in between
        replayed, replay_info = again.reset(options={"randomization": record})
        assert replay_info["randomization"] == record
        assert equal(replayed, first)
        inner = again.env
        assert isinstance(inner, DomainRandomization)
        assert inner.randomization["physics"] == record["wrapped"]["physics"]
    finally:
        env.close()
        again.close()
