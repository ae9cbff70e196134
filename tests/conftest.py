"""Fixtures shared by the test suite. Every path starts from this file, never from the working folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.wrapper import DomainRandomization

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def example_configs() -> Path:
    """``launch/configs``: the example configs a user starts from."""
    return ROOT / "launch" / "configs"


@pytest.fixture(scope="session")
def studies_root() -> Path:
    """``studies/``: one folder per study, each with its default ``config.yaml``."""
    return ROOT / "studies"


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """``closing(env)`` returns ``env`` and closes it after the test (the newest first)."""
    opened: list[Any] = []

    def keep(env: Any) -> Any:
        opened.append(env)
        return env

    yield keep
    for env in reversed(opened):
        env.close()


@pytest.fixture
def wrap(closing: Callable[[Any], Any]) -> Callable[..., DomainRandomization]:
    """``wrap(env, randomization, **kwargs)``: ``DomainRandomization(env, ...)``, closed after the test."""

    def build(env: gym.Env[Any, Any], randomization: Any = "full", **kwargs: Any) -> DomainRandomization:
        return closing(DomainRandomization(env, randomization, **kwargs))

    return build


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The unwrapped task named by the test module's ``ENV_ID``, shared by the module's tests."""
    made = gym.make(request.module.ENV_ID)
    yield made.unwrapped
    made.close()


def tiny_rl_config(out: Path | str, **overrides: Any) -> dict[str, Any]:
    """A ``kind: rl`` config of a SAC run of 300 steps on 2 envs of 50-step episodes, one thread (a few
    seconds), into ``out``; ``overrides`` replace top-level keys."""
    config = {
        "kind": "rl",
        "env": "dr_sim/PuckPush-v0",
        "randomization": "physics",
        "algo": "sac",
        "n_envs": 2,
        "max_episode_steps": 50,
        "total_timesteps": 300,
        "threads": 1,
        "hyperparams": {
            "learning_starts": 100,
            "batch_size": 32,
            "buffer_size": 1000,
            "policy_kwargs": {"net_arch": [16]},
        },
        "out": str(out),
    }
    return {**config, **overrides}


@pytest.fixture(scope="session")
def tiny_rl() -> Callable[..., dict[str, Any]]:
    """``tiny_rl(out, **overrides)``: see ``tiny_rl_config``."""
    return tiny_rl_config


def tiny_belief_fit(data: Path, out: Path, epochs: int) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Fit a tiny belief network (stem [8, 16], 2 context blocks, batch 8, lr 5e-3, torch seed 0) on every
    image of the data set folder ``data``: (net, the loaded data, its ``BeliefTrainConfig`` writing to
    ``out``, ``fit``'s result). torch is imported here, so that collecting the suite does not need it."""
    import numpy as np
    import torch

    from dr_sim.policies.belief_net import BeliefNet, BeliefNetConfig
    from dr_sim.policies.belief_training import BeliefTrainConfig, fit, load_belief_data

    loaded = load_belief_data(data)
    config = BeliefTrainConfig(
        kind="belief",
        data={"path": str(data)},
        epochs=epochs,
        batch_size=8,
        lr=5e-3,
        out=str(out),
        model=BeliefNetConfig(stem=[8, 16], context=2),
    )
    torch.manual_seed(0)
    net = BeliefNet(config.model)
    return net, loaded, config, fit(net, loaded, np.arange(len(loaded)), config)


@pytest.fixture(scope="session")
def tiny_duck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data set folder of 8 images of pybullet_data's duck (stood up), 32 px, no randomization."""
    from dr_sim.datasets.generate import generate

    root = tmp_path_factory.mktemp("tiny_duck") / "data"
    generator = {
        "env_kwargs": {"target_mesh": "duck_vhacd.urdf", "target_rpy": [1.5708, 0.0, 0.0]},
        "randomization": "none",
        "image_size": 32,
        "shard_size": 8,
        "visibility": "none",
    }
    generate(generator, root, 8, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_belief() -> Callable[..., tuple[Any, Any, Any, dict[str, Any]]]:
    """``tiny_belief(data, out, epochs)``: see ``tiny_belief_fit``."""
    return tiny_belief_fit
