"""The engine's figures a-d (``--only engine``) and the per-task step overhead (``--only tasks``).

Every pair is measured side by side in the same process:

a) resident memory growth (RSS, ``/proc/self/statm``) over ``N`` resets of panda-gym's
   ``PandaPush-v3`` wrapped with ``full`` (after a warm-up of 200 resets); goal < 10 MB. The unwrapped
   env's growth over the same resets is the baseline.
b) the cost of one ``full`` reset as a ratio to one 84x84 render of the same scene (same light,
   segmentation off); medians of interleaved repeats; goal <= 1.0.
c) steps per second of ``PandaPush-v3`` wrapped with ``physics`` as a ratio to the unwrapped env
   (same seed, same seeded random actions, alternating blocks of 200 steps); median; goal >= 0.9.
d) the same ratio at the same dynamics; goal >= 0.9. PyBullet's solver work per step depends on the
   dynamics it simulates (with the motor gains held at half or twice the nominal, a step of
   ``PandaPush-v3`` was measured 15-30% slower), so c mixes two costs: the wrapper's own cost per step
   (a few percent) and PyBullet simulating the randomized gains and masses. d's baseline is a second
   unwrapped env whose PyBullet state carries the very parameters the wrapped env sampled for the
   episode: it is reset through the wrapper's replay path (``options={"randomization":
   info["randomization"]}``, which writes the same physics values and sets the same motor gain
   scaling) and stepped past its wrapper (no action noise or latency, no observation noise). The two
   step in lockstep on the same actions (which one goes first alternates by block of 200 steps) and
   both reset when either ends, so d is the wrapper's overhead alone (up to the small differences in
   trajectory that the wrapper's action noise and latency cause). The motor hook runs on both
   sides: PyBullet keeps no motor gains, so scaled gains exist only as the hook rewrites each motor
   command (a few microseconds a step).

Without panda-gym the dr_sim task ``dr_sim/PandaReach-v0`` stands in (the output names the env).
"""

from __future__ import annotations

import math
import statistics
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from dr_sim.bench.figures import Figure
from dr_sim.env_ids import make_env
from dr_sim.native_output import quiet_native_stdout
from dr_sim.randomizers.textures import resident_bytes
from dr_sim.wrapper import DomainRandomization

WARMUP_RESETS = 200
BLOCK_STEPS = 200
IMAGE_SIZE = 84
MEMORY_GOAL_MB = 10.0
RESET_RATIO_GOAL = 1.0
STEP_RATIO_GOAL = 0.9
STEPS_FIGURE = "physics steps/s / unwrapped"
SAME_DYNAMICS_FIGURE = "physics steps/s / unwrapped at the same dynamics"


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


def _randomized(env_id: str, randomization: str) -> Any:
    """``DomainRandomization`` (state observations) around a new instance of the env."""
    return DomainRandomization(make_env(env_id), randomization, obs_type=None, image_size=IMAGE_SIZE)


def _wrap(env_id: str, randomization: str) -> tuple[Any, Any]:
    """(unwrapped gym env, ``DomainRandomization`` around a second instance)."""
    baseline = make_env(env_id)
    return baseline, _randomized(env_id, randomization)


def _growth(reset: Callable[[], Any], resets: int) -> tuple[float, float]:
    """(RSS growth in MB over ``resets`` calls after ``WARMUP_RESETS`` calls, seconds per call)."""
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
    env = _randomized(env_id, "full")
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


def _timed_step(step: Callable[[Any], Any], action: Any) -> tuple[float, bool]:
    """(seconds spent in ``step(action)``, whether the episode ended)."""
    start = time.perf_counter()
    _, _, terminated, truncated, _ = step(action)
    return time.perf_counter() - start, bool(terminated or truncated)


def _timed_steps(env: Any, actions: np.ndarray) -> float:
    """Seconds spent in ``env.step`` over ``actions`` (resets on episode end are not counted)."""
    total = 0.0
    for action in actions:
        seconds, ended = _timed_step(env.step, action)
        total += seconds
        if ended:
            env.reset()
    return total


@dataclass
class _StepRates:
    """Medians over blocks: baseline over wrapped seconds, and the steps/s of each side."""

    blocks: int
    block_steps: int
    ratio: float
    steps_per_s: float
    baseline_steps_per_s: float
    wrapped_seconds: float  # total over all blocks


def _alternating_blocks(
    action_space: Any, steps: int, seed: int, time_block: Callable[[np.ndarray, bool], tuple[float, float]]
) -> _StepRates:
    """Time about ``steps`` seeded random actions in blocks of ``BLOCK_STEPS``.

    ``time_block(actions, baseline_first)`` runs one block on both sides and returns (baseline seconds,
    wrapped seconds); which side goes first alternates from block to block so that slow drift cancels.
    """
    rng = np.random.default_rng(seed)
    blocks = max(math.ceil(steps / BLOCK_STEPS), 2)
    block = max(steps // blocks, 1)
    low, high = action_space.low, action_space.high
    ratios, base_rates, wrapped_rates = [], [], []
    wrapped_total = 0.0
    for i in range(blocks):
        actions = rng.uniform(low, high, size=(block, *action_space.shape)).astype(np.float32)
        base_s, wrapped_s = time_block(actions, i % 2 == 0)
        ratios.append(base_s / wrapped_s)
        wrapped_total += wrapped_s
        base_rates.append(block / base_s)
        wrapped_rates.append(block / wrapped_s)
    return _StepRates(
        blocks=blocks,
        block_steps=block,
        ratio=statistics.median(ratios),
        steps_per_s=statistics.median(wrapped_rates),
        baseline_steps_per_s=statistics.median(base_rates),
        wrapped_seconds=wrapped_total,
    )


def _step_figure(name: str, baseline: str, rates: _StepRates, **details: Any) -> Figure:
    """A steps/s ratio figure (c or d); ``baseline`` names the baseline before its steps/s."""
    return Figure(
        name=name,
        value=rates.ratio,
        unit="x",
        goal=STEP_RATIO_GOAL,
        higher=True,
        baseline=f"{baseline} {rates.baseline_steps_per_s:.0f} steps/s",
        details={
            "blocks": rates.blocks,
            "block_steps": rates.block_steps,
            "steps_per_s": rates.steps_per_s,
            "baseline_steps_per_s": rates.baseline_steps_per_s,
            **details,
        },
    )


def _side_by_side(baseline: Any, other: Any, steps: int, seed: int) -> _StepRates:
    """Step rates of ``other`` against ``baseline`` on the same seeded actions, alternating blocks."""

    def time_block(actions: np.ndarray, baseline_first: bool) -> tuple[float, float]:
        if baseline_first:
            base_s = _timed_steps(baseline, actions)
            return base_s, _timed_steps(other, actions)
        other_s = _timed_steps(other, actions)
        return _timed_steps(baseline, actions), other_s

    baseline.reset(seed=seed)
    other.reset(seed=seed)
    return _alternating_blocks(baseline.action_space, steps, seed, time_block)


def bench_steps(env_id: str, steps: int, seed: int) -> Figure:
    """Figure c: wrapped (``physics``) over unwrapped steps/s, median over alternating blocks."""
    baseline, wrapped = _wrap(env_id, "physics")
    inner = _StepClock(wrapped.env)  # time inside the wrapped env: what the wrapper itself adds is the rest
    try:
        rates = _side_by_side(baseline, wrapped, steps, seed)
    finally:
        baseline.close()
        wrapped.close()
    return _step_figure(
        STEPS_FIGURE,
        "unwrapped",
        rates,
        # Inside the env / whole wrapped step: the wrapper's own per-step cost. The rest of the gap to
        # the unwrapped env is PyBullet simulating the randomized dynamics (gains, masses): figure d.
        wrapper_own_ratio=inner.seconds / rates.wrapped_seconds if rates.wrapped_seconds else float("nan"),
    )


def bench_task_overhead(env_id: str, steps: int, seed: int) -> dict[str, Any]:
    """The per-step cost of ``full`` randomization in one of dr_sim's tasks (state observations):
    median ms per step with ``randomization=None`` and with ``full``, side by side on the same actions,
    and the overhead ``full / nominal - 1`` (the wrapper's work plus PyBullet simulating other dynamics)."""
    with quiet_native_stdout():  # PyBullet prints on connect
        nominal, randomized = gym.make(env_id), gym.make(env_id, randomization="full")
    try:
        rates = _side_by_side(nominal, randomized, steps, seed)
    finally:
        nominal.close()
        randomized.close()
    nominal_ms, full_ms = 1e3 / rates.baseline_steps_per_s, 1e3 / rates.steps_per_s
    return {"env": env_id, "nominal_ms": nominal_ms, "full_ms": full_ms, "overhead": full_ms / nominal_ms - 1.0}


class _Lockstep:
    """The wrapped env and a baseline at the same dynamics, stepped side by side on the same actions.

    The baseline (``matched``, a second ``DomainRandomization`` env) replays the wrapped env's sampled
    parameters on every reset and is stepped past its wrapper (``matched.env.step``); both reset when
    either ends, so they always simulate the same episode's dynamics. Episode ``i`` resets both with
    ``seed + i``: envs such as panda-gym's draw an unseeded reset's goal and object pose from fresh
    entropy, and the same seed gives both the same layout.
    """

    def __init__(self, wrapped: Any, matched: Any, seed: int) -> None:
        self.wrapped, self.matched = wrapped, matched
        self.seed = seed
        self.episodes = 0
        self._reset()

    def _reset(self) -> None:
        seed = self.seed + self.episodes
        _, info = self.wrapped.reset(seed=seed)
        self.matched.reset(seed=seed, options={"randomization": info["randomization"]})
        self.episodes += 1

    def __call__(self, actions: np.ndarray, baseline_first: bool) -> tuple[float, float]:
        """(baseline seconds, wrapped seconds) over ``actions``; resets are not counted."""
        sides = (self.matched.env.step, self.wrapped.step)
        order = (0, 1) if baseline_first else (1, 0)
        seconds = [0.0, 0.0]
        for action in actions:
            ended = False
            for side in order:
                spent, side_ended = _timed_step(sides[side], action)
                seconds[side] += spent
                ended = ended or side_ended
            if ended:
                self._reset()
        return seconds[0], seconds[1]


def bench_steps_same_dynamics(env_id: str, steps: int, seed: int) -> Figure:
    """Figure d: wrapped (``physics``) steps/s over those of an unwrapped env at the same parameters."""
    wrapped, matched = _randomized(env_id, "physics"), _randomized(env_id, "physics")
    try:
        lockstep = _Lockstep(wrapped, matched, seed)
        rates = _alternating_blocks(wrapped.action_space, steps, seed, lockstep)
    finally:
        wrapped.close()
        matched.close()
    return _step_figure(SAME_DYNAMICS_FIGURE, "same dynamics", rates, episodes=lockstep.episodes)


def engine_figures(env_id: str, resets: int, steps: int, repeats: int, seed: int) -> list[Figure]:
    """Figures a-d on ``env_id``."""
    return [
        bench_memory(env_id, resets, seed),
        bench_reset_vs_render(env_id, repeats, seed),
        bench_steps(env_id, steps, seed),
        bench_steps_same_dynamics(env_id, steps, seed),
    ]


def engine_notes(by_name: dict[str, dict[str, Any]]) -> list[str]:
    """What separates figure c from figure d, when both were measured."""
    if STEPS_FIGURE not in by_name or SAME_DYNAMICS_FIGURE not in by_name:
        return []
    literal, same = by_name[STEPS_FIGURE], by_name[SAME_DYNAMICS_FIGURE]
    own = literal["details"].get("wrapper_own_ratio")
    own_note = f" ({1 - own:.1%} of a wrapped step is the wrapper's own code)" if own is not None else ""
    return textwrap.wrap(
        f"steps/s: the plain ratio ({literal['value']:.3g}x) divides by the unwrapped env at its nominal "
        f"dynamics and so includes PyBullet's extra solver work for the sampled gains and masses; at the "
        f"same dynamics (the unwrapped env replaying each episode's sampled parameters) only the wrapper's "
        f"overhead remains: {same['value']:.3g}x{own_note}.",
        width=100,
    )


def task_lines(tasks: list[dict[str, Any]]) -> list[str]:
    """The per-task overhead as text lines."""
    if not tasks:
        return []
    return ["", "per-step cost of `full` randomization in each task (state observations):"] + [
        f"  {task['env']:<28} nominal {task['nominal_ms']:.3f} ms  full {task['full_ms']:.3f} ms  "
        f"overhead {task['overhead']:+.1%}"
        for task in tasks
    ]
