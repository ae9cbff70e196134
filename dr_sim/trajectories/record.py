"""Record trajectories in simulation: ``dr-sim record ENV --policy scripted|RUN --randomization CONFIG -n N
--out DIR [--seed S] [--max-steps T]``.

Simulated data stands in for a robot's: record episodes of any env under a randomization config whose
values play the target system (constants pin them: ``dr_sim/config/shifts/*.yaml``), then hand the folder
to ``dr-sim calibrate``. The folder is a trajectory set (``dr_sim.trajectories.format``).

- ``ENV``: a Gymnasium id; dr_sim's tasks take the randomization themselves, other envs (``module:id``
  imports ``module`` first) are wrapped in ``DomainRandomization``.
- ``--policy scripted`` runs the task's scripted controller (``dr_sim.policies.controllers``); a
  ``dr-sim train`` run folder runs its final model, deterministically, with the run's ``env_kwargs``
  and ``history`` (the recorded observations are the env's own, never the stacked history).
- Episode ``i`` is reset with seed ``S + i``: its start state replays from ``start_env_seed`` (and its
  whole randomization from ``start_randomization``), and the same command writes the same files.
- Each episode file is written whole when its episode ends, ``index.json`` last. Rerunning the same
  command resumes (episodes already written are kept); a folder that holds anything else, or a recording
  of other settings, is refused and never touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dr_sim.arguments import non_negative_int, positive_int, run_command
from dr_sim.config import ConfigSource, load_config, shift_names, shift_path
from dr_sim.errors import ConfigError
from dr_sim.trajectories.envs import env_control_dt, make_randomized_env
from dr_sim.trajectories.format import (
    INDEX,
    Trajectory,
    episode_name,
    read_episode,
    write_episode,
    write_index,
)
from dr_sim.trajectories.policies import RecordingPolicy, policy_for
from dr_sim.trajectories.spaces import describe_space

RECORDING = "recording"  # the key of the settings in the index's (and each episode's) metadata


class _Tap(gym.Wrapper[Any, Any, Any, Any]):
    """Keeps the env's own last observation, below any wrapper that the policy observes through."""

    last: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self.last = observation
        return observation, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.last = observation
        return observation, reward, terminated, truncated, info


def record(
    env_id: str,
    policy: str,
    randomization: ConfigSource,
    count: int,
    out: str | Path,
    *,
    seed: int = 0,
    max_steps: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Record ``count`` episodes of ``env_id`` under ``randomization`` with ``policy`` (``scripted`` or a run
    folder) into ``out``; see the module docstring.

    Returns:
        ``root``, ``episodes``, ``recorded`` (this call), ``kept`` (written before), ``steps`` (per episode),
        ``successes``, ``seconds``.
    """
    start = time.perf_counter()
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ConfigError(f"-n must be a positive number of episodes, got {count!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps <= 0):
        raise ConfigError(f"--max-steps must be a positive number of control steps, got {max_steps!r}")
    config = load_config(randomization)
    chosen: RecordingPolicy = policy_for(policy, env_id)
    settings = {
        "env": env_id,
        "env_kwargs": chosen.env_kwargs,
        "policy": chosen.identity,
        "randomization": config.model_dump(mode="json", exclude_none=True),
        "seed": int(seed),
        "max_steps": max_steps,
    }
    root = Path(out)
    env = make_randomized_env(env_id, config, chosen.env_kwargs, max_steps)
    try:
        tap = _Tap(env)
        acting = chosen.wrap(tap)
        control_dt = env_control_dt(env)
        if control_dt is None:
            raise ConfigError(
                f"{env_id}: the env declares no control period (a 'dt' attribute, in seconds); trajectories need one"
            )
        kept = _prepare(root, settings, count, env)
        steps: list[int] = []
        successes = 0
        for i in range(count):
            path = root / episode_name(i)
            if i in kept:
                episode = kept[i]
            else:
                episode = _episode(acting, tap, chosen, env, seed + i, control_dt, settings)
                write_episode(root, i, episode)
            steps.append(episode.steps)
            successes += bool(episode.metadata.get("success"))
            if progress:
                print(f"record: episode {i + 1}/{count} ({path.name}, {episode.steps} steps)", file=sys.stderr)
        write_index(
            root,
            env=env_id,
            env_kwargs=chosen.env_kwargs,
            control_dt=control_dt,
            observation_space=env.observation_space,
            action_space=env.action_space,
            steps=steps,
            metadata={RECORDING: settings, "episodes": count},
        )
    finally:
        env.close()
    return {
        "root": str(root),
        "episodes": count,
        "recorded": count - len(kept),
        "kept": len(kept),
        "steps": steps,
        "successes": successes,
        "seconds": time.perf_counter() - start,
    }


def _episode(
    acting: gym.Env[Any, Any],
    tap: _Tap,
    policy: RecordingPolicy,
    env: gym.Env[Any, Any],
    reset_seed: int,
    control_dt: float,
    settings: dict[str, Any],
) -> Trajectory:
    """One episode of ``policy``, reset with ``reset_seed``."""
    observation, info = acting.reset(seed=reset_seed)
    policy.reset()
    observations, actions, rewards = [tap.last], [], []
    success, done = bool(info.get("is_success", False)), False
    record = info.get("randomization")
    while not done:
        action = np.asarray(policy.act(observation), dtype=env.action_space.dtype)
        observation, reward, terminated, truncated, info = acting.step(action)
        observations.append(tap.last)
        actions.append(action)
        rewards.append(float(reward))
        success, done = bool(info.get("is_success", False)), terminated or truncated
    space = env.observation_space
    if isinstance(space, gym.spaces.Dict):
        stacked: Any = {
            key: np.stack([np.asarray(o[key], dtype=sub.dtype) for o in observations]) for key, sub in space.items()
        }
    else:
        stacked = np.stack([np.asarray(o, dtype=space.dtype) for o in observations])
    env_seed = None if record is None else record.get("env_seed")
    return Trajectory(
        observations=stacked,
        actions=np.stack(actions),
        control_dt=control_dt,
        timestamps=np.arange(len(observations), dtype=np.float64) * control_dt,
        rewards=np.asarray(rewards),
        env_seed=int(env_seed if env_seed is not None else reset_seed),
        randomization=record,
        metadata={"reset_seed": reset_seed, "success": success, "return": float(np.sum(rewards)), RECORDING: settings},
    )


def _prepare(root: Path, settings: dict[str, Any], count: int, env: gym.Env[Any, Any]) -> dict[int, Trajectory]:
    """The episodes a previous run of the same settings wrote into ``root`` (index -> episode); one
    ``ConfigError`` when ``root`` holds anything else (it is never touched then)."""
    if root.exists() and not root.is_dir():
        raise ConfigError(
            f"--out {root} is a file; give a folder (new, empty, or an earlier recording of these settings)"
        )
    if not root.exists():
        root.mkdir(parents=True)
        return {}
    index_path = root / INDEX
    if index_path.is_file():
        try:
            index = json.loads(index_path.read_text())
        except json.JSONDecodeError:
            index = {}
        recorded = (index.get("metadata") or {}).get(RECORDING)
        if recorded != settings or (index.get("metadata") or {}).get("episodes") != count:
            raise ConfigError(
                f"--out {root} holds another recording (other env, policy, randomization, seed, max steps or -n); "
                "give a new folder, or rerun that recording's own command to resume it"
            )
    observation_space = describe_space(env.observation_space, "observation_space")
    action_space = describe_space(env.action_space, "action_space")
    kept: dict[int, Trajectory] = {}
    names = {episode_name(i): i for i in range(count)}
    for path in sorted(root.iterdir()):
        if path.name == INDEX or path.name.startswith("."):
            continue  # temporaries of an interrupted write are replaced, never read
        if path.name not in names:
            raise ConfigError(
                f"--out {root} holds {path.name}, which no recording of these settings writes; give a new folder"
            )
        steps = _steps(path)
        episode = read_episode(path, observation_space, action_space, steps)
        if episode.metadata.get(RECORDING) != settings:
            raise ConfigError(f"--out {root}: {path.name} belongs to a recording of other settings; give a new folder")
        kept[names[path.name]] = episode
    return kept


def _steps(path: Path) -> int:
    """The number of actions in an episode file (its own count, checked by ``read_episode``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(data["actions"].shape[0]) if "actions" in data.files else 0
    except (OSError, ValueError, EOFError, KeyError):
        return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``record`` subcommand's arguments."""
    parser.add_argument("env", metavar="ENV", help="Gymnasium env id (dr_sim/PuckPush-v0, or module:id)")
    parser.add_argument(
        "--policy", required=True, help="'scripted' (the task's scripted controller) or a dr-sim train run folder"
    )
    parser.add_argument(
        "--randomization",
        required=True,
        help=f"the target's randomization: a preset, a shipped shift ({', '.join(shift_names())}) or a YAML file",
    )
    parser.add_argument("-n", type=positive_int, required=True, help="number of episodes")
    parser.add_argument("--out", required=True, help="trajectory folder: new, empty, or this recording's to resume")
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="episode i is reset with seed S + i (default 0)"
    )
    parser.add_argument("--max-steps", type=positive_int, default=None, help="cut episodes after this many steps")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim record`` and print its summary."""
    name = args.randomization
    summary = record(
        args.env,
        args.policy,
        shift_path(name) if name in shift_names() else name,
        args.n,
        args.out,
        seed=args.seed,
        max_steps=args.max_steps,
        progress=not args.quiet,
    )
    kept = f", {summary['kept']} kept from before" if summary["kept"] else ""
    print(
        f"{summary['episodes']} episodes ({sum(summary['steps'])} steps, {summary['successes']} successes) in "
        f"{summary['root']} ({summary['recorded']} recorded{kept}) in {summary['seconds']:.1f} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.trajectories.record``: the same as ``dr-sim record``."""
    return run_command("dr-sim record", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
