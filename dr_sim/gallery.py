"""A picture of every registered task: its camera view in the nominal scene and under ``full`` randomization.

``python -m dr_sim.gallery [--out docs/tasks] [--size 128] [--randomized 3]`` writes one PNG per task
(the nominal view, then ``--randomized`` seeds of ``full``) and prints a markdown table of the tasks
with their observation and action spaces, for the README; and ``render_detail.png``: the Panda tasks
drawn at ``render_detail`` low and full, nominal and under ``full``, side by side.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dr_sim.file_io import encode_png, make_contact_sheet, write_atomically
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import ENV_IDS, register_envs

DETAIL_TASKS = ("dr_sim/PandaReach-v0", "dr_sim/PandaPickAndPlace-v0")


def camera_views(env_id: str, size: int, randomized: int, render_detail: str = "low") -> list[np.ndarray]:
    """The task's camera image at reset: nominal (seed 0), then ``full`` with seeds 0, 1, ..."""
    views = []
    for randomization, seed in [(None, 0), *(("full", s) for s in range(randomized))]:
        with quiet_native_stdout():  # PyBullet prints on connect
            env = gym.make(
                env_id,
                randomization=randomization,
                image_size=size,
                render_mode="rgb_array",
                render_detail=render_detail,
            )
        try:
            env.reset(seed=seed)
            views.append(env.render())
        finally:
            env.close()
    return views


def describe_space(space: gym.Space[Any]) -> str:
    """A short markdown description of a space: shapes, and bounds for a Box."""
    if isinstance(space, gym.spaces.Dict):
        return ", ".join(f"`{key}` {describe_space(sub)}" for key, sub in space.spaces.items())
    if isinstance(space, gym.spaces.Box):
        low, high = np.min(space.low), np.max(space.high)
        return f"Box{tuple(space.shape)} [{low:g}, {high:g}]"
    return str(space)


def gallery(out: Path, size: int, randomized: int) -> str:
    """Write ``out/<Name>.png`` for every task; return the markdown table."""
    register_envs()
    lines = ["| Task | Camera view: nominal, then `full` | Observation (`state`) | Action |", "|---|---|---|---|"]
    for env_id in ENV_IDS:
        name = env_id.split("/")[1].split("-")[0]
        path = out / f"{name}.png"
        write_atomically(path, encode_png(make_contact_sheet(camera_views(env_id, size, randomized), randomized + 1)))
        with quiet_native_stdout():
            env = gym.make(env_id)
        try:
            spaces = describe_space(env.observation_space), describe_space(env.action_space)
        finally:
            env.close()
        lines.append(f"| `{env_id}` | ![{name}]({path.as_posix()}) | {spaces[0]} | {spaces[1]} |")
        print(f"{env_id}: {path}", file=sys.stderr, flush=True)
    return "\n".join(lines)


def detail_sheet(size: int) -> np.ndarray:
    """One row per Panda task: low then full detail nominal, low then full detail under ``full`` (seed 0)."""
    tiles = []
    for env_id in DETAIL_TASKS:
        low, full = (camera_views(env_id, size, 1, detail) for detail in ("low", "full"))
        tiles += [low[0], full[0], low[1], full[1]]
    return make_contact_sheet(tiles, 4)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/tasks"), help="folder for the PNGs (default docs/tasks)")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    parser.add_argument("--randomized", type=int, default=3, help="randomized views per task (default 3)")
    args = parser.parse_args(argv)
    if args.size <= 0 or args.randomized < 0:
        parser.error(f"--size must be positive and --randomized non-negative, got {args.size} and {args.randomized}")
    print(gallery(args.out, args.size, args.randomized))
    write_atomically(args.out / "render_detail.png", encode_png(detail_sheet(args.size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
