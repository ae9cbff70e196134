"""Benchmark the wrapper against baselines measured side by side in the same process.

``dr-sim bench [--json] [--resets N] [--steps N]`` prints three figures:

a) resident memory growth (RSS, ``/proc/self/statm``) over ``N`` resets of panda-gym's
   ``PandaPush-v3`` wrapped with ``full`` (after a warm-up of 200 resets); goal < 10 MB. The unwrapped
   env's growth over the same resets is the baseline.
b) the cost of one ``full`` reset as a ratio to one 84x84 render of the same scene (same light,
   segmentation off); medians of interleaved repeats; goal <= 1.0.
c) steps per second of ``PandaPush-v3`` wrapped with ``physics`` as a ratio to the unwrapped env
   (same seed, same seeded random actions, alternating blocks of 200 steps); median; goal >= 0.9.

Without panda-gym the dr_sim task ``dr_sim/PandaReach-v0`` stands in (the output names the env).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dr_sim.preview import default_env_id, make_env, quiet_native_stdout

WARMUP_RESETS = 200
BLOCK_STEPS = 200
IMAGE_SIZE = 84
MEMORY_GOAL_MB = 10.0
RESET_RATIO_GOAL = 1.0
STEP_RATIO_GOAL = 0.9


@dataclass
class Figure:
    """One row of the table: ``value`` against ``goal`` (``higher``: whether larger is better)."""

    name: str
    value: float
    unit: str
    goal: float
    higher: bool
    baseline: str
    details: dict[str, Any]

    @property
    def passed(self) -> bool:
        if not math.isfinite(self.value):
            return False
        return self.value >= self.goal if self.higher else self.value <= self.goal


class _StepClock:
    """Wraps an env's ``step`` to add up the seconds spent inside it."""

    def __init__(self, env: Any) -> None:
        self.seconds = 0.0
        self._step = env.step
        env.step = self

    def __call__(self, action: Any) -> Any:
        start = time.perf_counter()
        result = self._step(action)
        self.seconds += time.perf_counter() - start
        return result


def _wrap(env_id: str, randomization: str) -> tuple[Any, Any]:
    """(unwrapped gym env, ``DomainRandomization`` around a second instance)."""
    from dr_sim.wrapper import DomainRandomization

    baseline = make_env(env_id)
    wrapped = DomainRandomization(make_env(env_id), randomization, obs_type=None, image_size=IMAGE_SIZE)
    return baseline, wrapped


def _growth(reset: Callable[[], Any], resets: int) -> tuple[float, float]:
    """(RSS growth in MB over ``resets`` calls after ``WARMUP_RESETS`` calls, seconds per call)."""
    from dr_sim.randomizers.textures import resident_bytes

    for _ in range(WARMUP_RESETS):
        reset()
    before = resident_bytes()
    start = time.perf_counter()
    for _ in range(resets):
        reset()
    seconds = (time.perf_counter() - start) / resets
    return (resident_bytes() - before) / 1e6, seconds


def bench_memory(env_id: str, resets: int, seed: int) -> Figure:
    """Figure a: RSS growth (MB) over ``resets`` ``full`` resets, next to the unwrapped env's."""
    baseline, wrapped = _wrap(env_id, "full")
    try:
        baseline.reset(seed=seed)
        wrapped.reset(seed=seed)
        base_growth, base_seconds = _growth(baseline.reset, resets)
        growth, seconds = _growth(wrapped.reset, resets)
    finally:
        baseline.close()
        wrapped.close()
    return Figure(
        name="memory growth, full resets",
        value=growth,
        unit="MB",
        goal=MEMORY_GOAL_MB,
        higher=False,
        baseline=f"unwrapped {base_growth:+.2f} MB",
        details={
            "resets": resets,
            "warmup_resets": WARMUP_RESETS,
            "baseline_mb": base_growth,
            "reset_ms": seconds * 1e3,
            "baseline_reset_ms": base_seconds * 1e3,
        },
    )


def bench_reset_vs_render(env_id: str, repeats: int, seed: int) -> Figure:
    """Figure b: median ``full`` reset time over median 84x84 render time (interleaved repeats)."""
    from dr_sim.wrapper import DomainRandomization

    env = DomainRandomization(make_env(env_id), "full", obs_type=None, image_size=IMAGE_SIZE)
    try:
        env.reset(seed=seed)
        for _ in range(5):  # warm caches (texture pools, distractor bank, renderer buffers)
            env.reset()
            env.camera.render(env.scene.light, segmentation=False)
        resets, renders = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            env.reset()
            middle = time.perf_counter()
            env.camera.render(env.scene.light, segmentation=False)
            end = time.perf_counter()
            resets.append(middle - start)
            renders.append(end - middle)
    finally:
        env.close()
    reset_s, render_s = statistics.median(resets), statistics.median(renders)
    return Figure(
        name="full reset / 84x84 render",
        value=reset_s / render_s,
        unit="x",
        goal=RESET_RATIO_GOAL,
        higher=False,
        baseline=f"render {render_s * 1e3:.2f} ms",
        details={"repeats": repeats, "reset_ms": reset_s * 1e3, "render_ms": render_s * 1e3},
    )


def _timed_steps(env: Any, actions: np.ndarray) -> float:
    """Seconds spent in ``env.step`` over ``actions`` (resets on episode end are not counted)."""
    total = 0.0
    for action in actions:
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        total += time.perf_counter() - start
        if terminated or truncated:
            env.reset()
    return total


def bench_steps(env_id: str, steps: int, seed: int) -> Figure:
    """Figure c: wrapped (``physics``) over unwrapped steps/s, median over alternating blocks."""
    baseline, wrapped = _wrap(env_id, "physics")
    rng = np.random.default_rng(seed)
    blocks = max(math.ceil(steps / BLOCK_STEPS), 2)
    block = max(steps // blocks, 1)
    ratios, base_rates, wrapped_rates = [], [], []
    inner = _StepClock(wrapped.env)  # time inside the wrapped env: what the wrapper itself adds is the rest
    wrapped_total = 0.0
    try:
        baseline.reset(seed=seed)
        wrapped.reset(seed=seed)
        baseline.action_space.seed(seed)
        low, high = baseline.action_space.low, baseline.action_space.high
        for i in range(blocks):
            actions = rng.uniform(low, high, size=(block, *baseline.action_space.shape)).astype(np.float32)
            # Alternate which env goes first (ABBA) so that slow drift cancels.
            if i % 2 == 0:
                base_s, wrapped_s = _timed_steps(baseline, actions), _timed_steps(wrapped, actions)
            else:
                wrapped_s, base_s = _timed_steps(wrapped, actions), _timed_steps(baseline, actions)
            ratios.append(base_s / wrapped_s)
            wrapped_total += wrapped_s
            base_rates.append(block / base_s)
            wrapped_rates.append(block / wrapped_s)
    finally:
        baseline.close()
        wrapped.close()
    return Figure(
        name="physics steps/s / unwrapped",
        value=statistics.median(ratios),
        unit="x",
        goal=STEP_RATIO_GOAL,
        higher=True,
        baseline=f"unwrapped {statistics.median(base_rates):.0f} steps/s",
        details={
            "blocks": blocks,
            "block_steps": block,
            "steps_per_s": statistics.median(wrapped_rates),
            "baseline_steps_per_s": statistics.median(base_rates),
            # Inside the env / whole wrapped step: the wrapper's own per-step cost. The rest of the gap
            # to the unwrapped env is PyBullet simulating the randomized dynamics (gains, masses).
            "wrapper_own_ratio": inner.seconds / wrapped_total if wrapped_total else float("nan"),
        },
    )


def run_benchmarks(
    *, resets: int = 10_000, steps: int = 4_000, repeats: int = 100, seed: int = 0, env_id: str | None = None
) -> dict[str, Any]:
    """Run the three benchmarks; returns ``{"env", "figures": [...], "passed", "seconds"}``."""
    start = time.perf_counter()
    with quiet_native_stdout():
        import dr_sim  # noqa: F401  (imports PyBullet, which prints its build time)
    env_id = env_id or default_env_id()
    figures = [
        bench_memory(env_id, resets, seed),
        bench_reset_vs_render(env_id, repeats, seed),
        bench_steps(env_id, steps, seed),
    ]
    return {
        "env": env_id,
        "figures": [{**asdict(figure), "passed": figure.passed} for figure in figures],
        "passed": all(figure.passed for figure in figures),
        "seconds": time.perf_counter() - start,
    }


def format_table(result: dict[str, Any]) -> str:
    """The benchmark result as a text table."""
    header = ("figure", "value", "goal", "baseline", "result")
    rows = []
    for figure in result["figures"]:
        sign = ">=" if figure["higher"] else ("<" if figure["unit"] == "MB" else "<=")
        unit = f" {figure['unit']}" if figure["unit"] == "MB" else figure["unit"]
        rows.append(
            (
                figure["name"],
                f"{figure['value']:+.2f}{unit}" if figure["unit"] == "MB" else f"{figure['value']:.3g}{unit}",
                f"{sign} {figure['goal']:g}{unit}",
                figure["baseline"],
                "pass" if figure["passed"] else "FAIL",
            )
        )
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for figure in result["figures"]:
        own = figure["details"].get("wrapper_own_ratio")
        if own is not None:
            lines.append(
                f"of a wrapped step, {own:.3f} is spent inside the env: the wrapper's own per-step cost is "
                f"{1 - own:.1%}; the rest of the gap is PyBullet simulating the randomized dynamics"
            )
    lines.append(f"env {result['env']}, {result['seconds']:.0f} s")
    return "\n".join(line.rstrip() for line in lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's arguments."""
    from dr_sim.cli import positive_int

    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--resets", type=positive_int, default=10_000, help="resets for memory growth (default 10000)")
    parser.add_argument(
        "--steps", type=positive_int, default=4_000, help="steps per env for the step ratio (default 4000)"
    )
    parser.add_argument("--repeats", type=positive_int, default=100, help="reset/render pairs timed (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and actions (default 0)")
    parser.add_argument("--env", default=None, help="Gymnasium id or module:id (default PandaPush-v3)")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim bench``: print the table (or JSON); exit code 0 whether or not goals are met."""
    result = run_benchmarks(resets=args.resets, steps=args.steps, repeats=args.repeats, seed=args.seed, env_id=args.env)
    print(json.dumps(result) if args.json else format_table(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (``benchmarks/bench_engine.py``): ``dr-sim bench`` with its options."""
    from dr_sim.cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])
