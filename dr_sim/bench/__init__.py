"""``dr-sim bench``: one table of ratios, each pair measured side by side in the same run.

``dr-sim bench [--json] [--only FAMILY ...] [--resets N] [--steps N] [--repeats N] [--task-steps N]
[--sizes PX ...] [--blocks N] [--calls N] [--images N] [--pool-images N] [--workers N]`` runs these families
(all by default; ``--json`` prints one object with every figure):

- ``engine`` (``dr_sim.bench.engine``): a) memory growth over ``--resets`` ``full`` resets (goal
  < 10 MB, and < 5 MB for the speed issue's table), b) a ``full`` reset / one 84x84 render (goal
  <= 1.0, and <= 0.5), c) and d) ``physics`` steps/s against the unwrapped env, plain and at the same
  dynamics (goal >= 0.9);
- ``tasks``: the per-step cost of ``full`` in each dr_sim task (``--task-steps``);
- ``render``, ``egl``, ``panda`` (``dr_sim.bench.render``): each image task's step against PyBullet's
  floor at each of ``--sizes`` (goal >= 0.95), EGL against TinyRenderer at each size (reported),
  ``PandaPush-v3`` with ``full`` and dr_sim's camera against panda-gym's ``render()`` (goal: faster);
- ``detail`` (``dr_sim.bench.detail``): every image task's absolute steps/s at 84 px, nominal and
  ``full``, with ``render_detail`` low against full (goal for the Panda tasks under ``full``: >= 5x,
  the render alone >= 7x);
- ``generator``, ``vecenv`` (``dr_sim.bench.scale``): generator images/s per worker against the render
  floor (goal >= 0.85), 2 workers against 1 (goal >= 1.8), ``SubprocVecEnv`` steps/s with 1 and 2
  workers (reported), and ``AsyncVectorEnv(shared_memory=True)`` with N workers against 1 for N = 2 ..
  ``--workers`` (default: the available cores; goal >= 0.9 N) with what the per-worker rate gives on 16
  cores (extrapolated);
- ``peers`` (``dr_sim.bench.peers``): ``PandaPickAndPlace-v0`` with ``full`` and 84 px images against
  panda-gym's own ``render()`` (absolute steps/s) and robosuite's Lift with its DR wrapper
  (``randomize_color=False``) and an 84 px camera (steps/s goal >= 15x, DR resets/s goal >= 100x), each
  where installed (a missing one: one line).

Exit code 0 whether or not goals are met. With panda-gym missing, ``dr_sim/PandaReach-v0`` stands in
for the engine figures and the panda figure is left out; without EGL the egl figures are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

from dr_sim.arguments import non_negative_int, positive_int, run_command
from dr_sim.bench import detail, peers, render, scale
from dr_sim.bench.engine import bench_task_overhead, engine_figures, engine_notes, task_lines
from dr_sim.bench.figures import Figure, format_table
from dr_sim.env_ids import default_env_id
from dr_sim.progress import Progress
from dr_sim.registration import ENV_IDS, register_envs

FAMILIES = ("engine", "tasks", "render", "detail", "egl", "panda", "generator", "vecenv", "peers")
SIZES = (64, 84, 128, 256)
MEMORY_GOAL_MB = 5.0  # the speed issue's goals, stricter than the engine's on the same measurements
RESET_GOAL = 0.5

__all__ = ["FAMILIES", "add_arguments", "format_result", "main", "run", "run_benchmarks"]


def _stricter(figures: list[Figure]) -> list[Figure]:
    """The speed issue's rows that share a measurement with engine figures a and b (not measured again)."""
    goals = {"memory growth, full resets": MEMORY_GOAL_MB, "full reset / 84x84 render": RESET_GOAL}
    return [
        replace(figure, goal=goals[figure.name], family="engine", details={**figure.details, "same_as": figure.name})
        for figure in figures
        if figure.name in goals
    ]


def run_benchmarks(args: argparse.Namespace) -> dict[str, Any]:
    """Run the families in ``args.only``; returns ``{"env", "figures", "tasks", "skipped", "passed", "seconds"}``
    (``skipped``: one line per peer suite that is not installed)."""
    start = time.perf_counter()
    register_envs()
    env_id = args.env or default_env_id()
    only, sizes = set(args.only), list(args.sizes)
    figures: list[Figure] = []
    engine: list[Figure] = []
    tasks: list[dict[str, Any]] = []
    skipped: list[str] = []

    def measure_engine() -> None:
        engine.extend(engine_figures(env_id, args.resets, args.steps, args.repeats, args.seed))
        figures.extend(engine)

    def measure_peers() -> None:
        rows, missing = peers.peer_figures(args.blocks, args.calls * 4, args.seed)
        figures.extend(rows)
        skipped.extend(missing)

    def measure_tasks() -> None:
        if args.task_steps:
            tasks.extend(bench_task_overhead(task, args.task_steps, args.seed) for task in ENV_IDS)

    # family -> what measures it, in the table's order ("engine" also gives the stricter rows after "panda")
    measures: dict[str, Callable[[], None]] = {
        "engine": measure_engine,
        "render": lambda: figures.extend(render.floor_figures(sizes, args.blocks, args.calls, args.seed)),
        "detail": lambda: figures.extend(detail.detail_figures(args.blocks, args.calls, args.seed)),
        "egl": lambda: figures.extend(render.egl_figures(sizes, args.blocks, args.calls, args.seed)),
        "panda": lambda: figures.extend(
            f for f in [render.panda_figure(args.blocks, args.calls * 4, args.seed)] if f is not None
        ),
        "stricter": lambda: figures.extend(_stricter(engine)),
        "generator": lambda: figures.extend(scale.generator_figures(args.images, args.pool_images)),
        "vecenv": lambda: figures.extend(
            scale.vecenv_figures(args.blocks, args.calls * 4, args.seed)
            + scale.scaling_figures(args.workers or scale.available_cores(), args.blocks, args.calls * 4, args.seed)
        ),
        "peers": measure_peers,
        "tasks": measure_tasks,
    }
    chosen = [name for name in measures if name in only or (name == "stricter" and "engine" in only)]
    with contextlib.closing(Progress(len(chosen), "bench", "families", enabled=not args.quiet)) as bar:
        for name in chosen:
            bar.label(name)
            measures[name]()
            bar.advance()
    judged = [figure.passed for figure in figures if figure.passed is not None]
    return {
        "env": env_id,
        "figures": [{**asdict(figure), "passed": figure.passed} for figure in figures],
        "tasks": tasks,
        "skipped": skipped,
        "passed": all(judged),
        "seconds": time.perf_counter() - start,
    }


def format_result(result: dict[str, Any]) -> str:
    """The result as one text table, its notes and the per-task overhead."""
    lines = format_table(result["figures"])
    lines += engine_notes({figure["name"]: figure for figure in result["figures"]})
    lines += detail.detail_lines(result["figures"])
    lines += scale.scaling_lines(result["figures"])
    lines += peers.peer_lines(result["figures"], result.get("skipped", []))
    lines += task_lines(result["tasks"])
    lines.append(f"env {result['env']}, {result['seconds']:.0f} s")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's arguments."""
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--only", nargs="+", choices=FAMILIES, default=list(FAMILIES), metavar="FAMILY", help=f"of {FAMILIES}"
    )
    parser.add_argument("--resets", type=positive_int, default=10_000, help="resets for memory growth (default 10000)")
    parser.add_argument("--steps", type=positive_int, default=4_000, help="steps per env for c and d (default 4000)")
    parser.add_argument("--repeats", type=positive_int, default=100, help="reset/render pairs timed (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and actions (default 0)")
    parser.add_argument(
        "--task-steps", type=non_negative_int, default=1_000, help="steps per task for the overhead (0: skip)"
    )
    parser.add_argument("--env", default=None, help="Gymnasium id or module:id (default PandaPush-v3)")
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=positive_int,
        default=list(SIZES),
        metavar="PX",
        help="image sizes (default 64 84 128 256)",
    )
    parser.add_argument("--blocks", type=positive_int, default=6, help="interleaved blocks per image pair (default 6)")
    parser.add_argument("--calls", type=positive_int, default=5, help="calls per side and block (default 5)")
    parser.add_argument("--images", type=positive_int, default=300, help="images per generator ratio (default 300)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="largest N of the vecenv family's N workers / 1 (default: the cores this process may use)",
    )
    parser.add_argument(
        "--pool-images",
        type=positive_int,
        default=256,
        help="N of the 2-workers figure's N and 3N image runs (default 256)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim bench``: print the table (or JSON); exit code 0 whether or not goals are met."""
    result = run_benchmarks(args)
    print(json.dumps(result) if args.json else format_result(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``dr-sim bench`` as a function (one-line errors, exit code 2): ``main(["--only", "engine"])``."""
    return run_command("dr-sim bench", add_arguments, run, __doc__, argv)
