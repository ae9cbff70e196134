"""A randomized rollout with a printed summary: ``python -m dr_sim.rollout [--randomization full]``.

Runs a few episodes of a task under a randomization config with random actions from a seeded
generator and prints, per episode, a few sampled parameters, the return and the steps per second.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from dr_sim.registration import register_envs
from dr_sim.wrapper import DomainRandomization


def _first(params: dict, section: str, name: str, prefer: str = "link3") -> str:
    """``name target=value`` of the first sampled target of ``section.name``, preferring ``prefer`` targets."""
    values = params.get(section, {}).get(name, {})
    if not values:
        return "-"
    target = next((t for t in values if prefer in t), next(iter(values)))
    value = values[target]
    shown = f"{value:.3g}" if isinstance(value, float) else "[" + ", ".join(f"{v:.2f}" for v in value) + "]"
    return f"{name} {target}={shown}"


def run(env_id: str, randomization: str, episodes: int, steps: int, seed: int) -> None:
    """Roll out ``episodes`` episodes of ``steps`` random actions and print a summary line each."""
    env = DomainRandomization(gym.make(env_id), randomization, obs_type="state+rgb", image_size=64)
    actions = np.random.default_rng(seed)
    print(f"{env_id} with randomization {randomization!r}: {episodes} episodes x {steps} steps (64 px camera)")
    for episode in range(episodes):
        _, info = env.reset(seed=seed + episode)
        params = info["randomization"]
        start, total = time.perf_counter(), 0.0
        for _ in range(steps):
            _, reward, terminated, truncated, _ = env.step(actions.uniform(-1, 1, env.action_space.shape))
            total += float(reward)
            if terminated or truncated:
                break
        rate = steps / (time.perf_counter() - start)
        distractors = len(params.get("distractors", {}).get("items", []))
        print(
            f"  episode {episode}: return {total:7.2f} | {rate:5.0f} steps/s | distractors {distractors:2d} | "
            f"{_first(params, 'physics', 'mass')} | {_first(params, 'physics', 'lateral_friction')} | "
            f"light {_first(params, 'lighting', 'direction')}"
        )
    env.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="dr_sim/PandaReach-v0", help="a registered Gymnasium id")
    parser.add_argument("--randomization", default="full", help="preset name or YAML path")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    register_envs()
    run(args.env, args.randomization, args.episodes, args.steps, args.seed)


if __name__ == "__main__":
    main()
