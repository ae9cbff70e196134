"""Success of the scripted controllers, nominal and randomized.

``python -m dr_sim.policies.controllers.evaluate [-n 100] [--presets none physics] [--ids ...]`` prints a
markdown table: per task, the success rate over ``n`` seeded episodes with its Wilson 95% interval, in
the nominal scene and under each preset. An episode succeeds when ``info["is_success"]`` holds at its
last step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from dr_sim.config import ConfigSource
from dr_sim.native_output import quiet_native_stdout
from dr_sim.policies.controllers import CONTROLLERS, make_controller
from dr_sim.statistics import Success


def run_episode(env: gym.Env[Any, Any], controller: Any, seed: int) -> bool:
    """One seeded episode under ``controller``; whether it ended in success."""
    observation, info = env.reset(seed=seed)
    controller.reset()
    success, done = bool(info.get("is_success", False)), False
    while not done:
        observation, _, terminated, truncated, info = env.step(controller.act(observation))
        success, done = bool(info.get("is_success", False)), terminated or truncated
    return success


def success_rate(
    env_id: str, episodes: int = 100, randomization: ConfigSource | None = None, seed: int = 0, **env_kwargs: Any
) -> Success:
    """The scripted controller's success on ``env_id`` over ``episodes`` seeds ``seed, seed + 1, ...``."""
    with quiet_native_stdout():  # PyBullet prints on connect
        env = gym.make(env_id, randomization=randomization, **env_kwargs)
    try:
        controller = make_controller(env_id, env)
        successes = sum(run_episode(env, controller, seed + i) for i in range(episodes))
    finally:
        env.close()
    return Success(successes, episodes)


def table(env_ids: Sequence[str], presets: Sequence[str], episodes: int, seed: int) -> str:
    """The markdown table of success rates (rows: tasks; columns: presets)."""
    header = ["task", *(("nominal" if preset == "none" else preset) for preset in presets)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for env_id in env_ids:
        cells = [str(success_rate(env_id, episodes, None if p == "none" else p, seed)) for p in presets]
        lines.append(f"| `{env_id}` | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr, flush=True)  # progress, one task at a time
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--episodes", type=int, default=100, help="episodes per task and preset (default 100)")
    parser.add_argument("--presets", nargs="+", default=["none", "physics"], help="default: none physics")
    parser.add_argument("--ids", nargs="+", default=list(CONTROLLERS), choices=list(CONTROLLERS), metavar="ID")
    parser.add_argument("--seed", type=int, default=0, help="first episode seed (default 0)")
    args = parser.parse_args(argv)
    if args.episodes <= 0:
        parser.error(f"--episodes must be a positive number of episodes, got {args.episodes}")
    print(table(args.ids, args.presets, args.episodes, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
