"""The wrapper on the PyBullet envs RL users already run: rl-zoo3's ``pybullet-envs-gymnasium`` (every
registered id) and PyBullet's own classic ``pybullet_envs`` through shimmy's Gym compatibility layer
(Minitaur, the racecar and the KUKA grasping env). Each is wrapped straight after it is made, under
``physics`` and ``full``: values are read back from PyBullet, and the same seed gives the same
parameters and the same image. Skipped, with the install line, where a package cannot import."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest

from dr_sim import DomainRandomization

PRESETS = ("physics", "full")
IMAGE = 24  # px


def _require(module: str, install: str) -> Any:
    """The module, or a skip that says how to install it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old Gym and pkg_resources announce their deprecation on import
            return importlib.import_module(module)
    except ImportError as error:
        pytest.skip(f"{module} cannot import ({error}); install it with: {install}")


def gymnasium_ids() -> list[str]:
    """Every id that pybullet-envs-gymnasium registers (empty when it is not installed)."""
    try:
        importlib.import_module("pybullet_envs_gymnasium")
    except ImportError:
        return []
    return sorted(key for key, spec in gym.registry.items() if "pybullet_envs_gymnasium" in str(spec.entry_point))


def read_back(wrapper: DomainRandomization, drawn: dict[str, float]) -> None:
    """Every drawn link mass is the one PyBullet holds."""
    scene = wrapper.scene
    assert drawn
    for name, value in drawn.items():
        link = scene.links[name]
        held = p.getDynamicsInfo(link.body, link.index, physicsClientId=scene.client_id)[0]
        assert held == pytest.approx(value), name


def check_seeded(wrapper: DomainRandomization, steps: int = 3) -> dict[str, Any]:
    """Reset with seed 0, step, reset with seed 1, reset with seed 0 again: the same parameters and the
    same image. Returns the first episode's parameters."""
    first, info = wrapper.reset(seed=0)
    wrapper.action_space.seed(0)
    for _ in range(steps):
        wrapper.step(wrapper.action_space.sample())
    wrapper.reset(seed=1)
    again, replayed = wrapper.reset(seed=0)
    assert replayed["randomization"] == info["randomization"]
    np.testing.assert_array_equal(again["rgb"], first["rgb"])
    read_back(wrapper, replayed["randomization"]["physics"]["mass"])
    return info["randomization"]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("env_id", gymnasium_ids() or ["AntBulletEnv-v0"])
def test_pybullet_envs_gymnasium_wrapped_straight_after_make(env_id: str, preset: str) -> None:
    _require("pybullet_envs_gymnasium", "pip install pybullet-envs-gymnasium")
    wrapper = DomainRandomization(gym.make(env_id), preset, obs_type="state+rgb", image_size=IMAGE)
    try:
        params = check_seeded(wrapper)  # restores its saved world on every reset: the bank must not break it
        if preset == "full":
            assert "distractors" in params
        assert wrapper.session.engine.actuation is not None  # the control period was found (latency needs it)
    finally:
        wrapper.close()


def classic(name: str, **kwargs: Any) -> gym.Env[Any, Any]:
    """A classic pybullet_envs env behind shimmy's compatibility layer (old Gym API)."""
    shimmy = _require("shimmy", "pip install shimmy 'gym==0.23.1' 'setuptools>=77,<81'")
    module, cls = {
        "minitaur": ("pybullet_envs.bullet.minitaur_gym_env", "MinitaurBulletEnv"),
        "racecar": ("pybullet_envs.bullet.racecarGymEnv", "RacecarGymEnv"),
    }[name]
    env_class = getattr(_require(module, "pip install 'gym==0.23.1' 'setuptools>=77,<81'"), cls)
    return shimmy.GymV21CompatibilityV0(env=env_class(**kwargs))


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize(("name", "kwargs"), [("minitaur", {"env_randomizer": None}), ("racecar", {})])
def test_classic_envs_through_the_compatibility_layer(name: str, kwargs: dict[str, Any], preset: str) -> None:
    wrapper = DomainRandomization(classic(name, **kwargs), preset, obs_type="state+rgb", image_size=IMAGE)
    try:
        check_seeded(wrapper)
        assert wrapper.session.motors is not None
        assert wrapper.session.motors.bullet_client is not None  # hooked on the env's own BulletClient
    finally:
        wrapper.close()


KUKA_SCRIPT = textwrap.dedent(
    """
    import json, random, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from shimmy import GymV21CompatibilityV0
    from pybullet_envs.bullet.kukaGymEnv import KukaGymEnv
    from dr_sim import DomainRandomization
    wrapper = DomainRandomization(GymV21CompatibilityV0(env=KukaGymEnv()), sys.argv[1], obs_type="state+rgb",
                                  image_size=24)
    random.seed(0)  # the env places its block with Python's global random: seeded here, as a user would
    first, info = wrapper.reset(seed=0)
    for _ in range(3):
        wrapper.step(wrapper.action_space.sample())
    random.seed(0)
    again, replayed = wrapper.reset(seed=0)
    scene = wrapper.scene
    masses = replayed["randomization"]["physics"]["mass"]
    held = {name: __import__("pybullet").getDynamicsInfo(scene.links[name].body, scene.links[name].index,
            physicsClientId=scene.client_id)[0] for name in masses}
    print(json.dumps({"same_params": replayed["randomization"] == info["randomization"],
                      "same_image": bool(np.array_equal(first["rgb"], again["rgb"])),
                      "read_back": all(abs(held[n] - v) < 1e-9 for n, v in masses.items()), "n": len(masses)}))
    """
)


@pytest.mark.parametrize("preset", PRESETS)
def test_the_kuka_grasping_env_in_a_process_of_its_own(preset: str) -> None:
    """KukaGymEnv calls the pybullet module without a client id: it works only as client 0 of its process."""
    _require("shimmy", "pip install shimmy 'gym==0.23.1' 'setuptools>=77,<81'")
    _require("pybullet_envs.bullet.kukaGymEnv", "pip install 'gym==0.23.1' 'setuptools>=77,<81'")
    done = subprocess.run(
        [sys.executable, "-c", KUKA_SCRIPT, preset], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"same_params": True, "same_image": True, "read_back": True, "n": result["n"]}
    assert result["n"] > 0


def test_wrapped_minitaurs_made_and_closed_in_turn_and_two_alive_at_once() -> None:
    for explicit in (False, True):
        for _ in range(3):  # each closed before the next is made (an evaluation loop): ids are reused
            env = classic("minitaur", env_randomizer=None)
            client = env.gym_env._pybullet_client._client if explicit else None
            wrapper = DomainRandomization(env, "physics", client_id=client)
            wrapper.reset(seed=0)
            for _ in range(3):
                wrapper.step(wrapper.action_space.sample())
            wrapper.close()
    first = DomainRandomization(classic("minitaur", env_randomizer=None), "physics")
    second = DomainRandomization(classic("minitaur", env_randomizer=None), "physics")
    try:
        infos = [first.reset(seed=0)[1], second.reset(seed=1)[1]]
        for _ in range(3):
            first.step(first.action_space.sample())
            second.step(second.action_space.sample())
        assert first.client_id != second.client_id
        for wrapper, info in zip((first, second), infos, strict=True):
            read_back(wrapper, info["randomization"]["physics"]["mass"])
    finally:
        first.close()
        second.close()


def test_minitaurs_own_randomizer_is_named_and_switching_it_off_seeds_the_masses() -> None:
    wrapper = DomainRandomization(classic("minitaur"), "physics")  # its default env_randomizer is on
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            masses = [wrapper.reset(seed=0)[1]["randomization"]["physics"]["mass"] for _ in range(3)]
        ours = [str(w.message) for w in caught if "changes dynamics itself" in str(w.message)]
        assert len(ours) == 1
        assert "env_randomizer=None" in ours[0]
        assert masses[0] != masses[1]  # its own draws move what dr_sim scales: the reason for the warning
    finally:
        wrapper.close()
    quiet = DomainRandomization(classic("minitaur", env_randomizer=None), "physics")
    try:
        assert quiet.reset(seed=0)[1]["randomization"] == quiet.reset(seed=0)[1]["randomization"]
    finally:
        quiet.close()


@pytest.mark.slow
def test_ppo_on_ant_wrapped_with_full_in_subprocess_workers() -> None:
    """``python -m pytest -m slow tests/test_third_party_envs.py -k ppo``: a few thousand steps of SB3 PPO."""
    _require("pybullet_envs_gymnasium", "pip install pybullet-envs-gymnasium")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv

    def make() -> gym.Env[Any, Any]:
        return DomainRandomization(gym.make("pybullet_envs_gymnasium:AntBulletEnv-v0"), "full")

    venv = SubprocVecEnv([make, make])
    try:
        venv.seed(0)
        model = PPO("MlpPolicy", venv, n_steps=256, batch_size=128, n_epochs=2, seed=0, device="cpu")
        model.learn(3000)
        assert model.num_timesteps >= 3000
        assert all(params for params in venv.get_attr("randomization"))
    finally:
        venv.close()
