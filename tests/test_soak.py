"""A soak: 10,000 episodes over every task and preset end with no crash and flat memory.

``python -m pytest -m slow tests/test_soak.py -s`` prints, per task and preset, the episodes run and the
resident memory before and after (after a warm-up, so that the texture pool and the first allocations
are in place). Slow: about 2 minutes on 2 cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from dr_sim import ENV_IDS, PRESETS

EPISODES = 10_000
STEPS = 3  # per episode: resets are what a soak stresses
WARM_UP = 20  # episodes before the memory baseline
GROWTH_LIMIT_MB = 5.0  # per task and preset, after the warm-up


def resident_mb() -> float:
    """This process's resident memory (MB), from /proc."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").is_file(), reason="reads resident memory from /proc (Linux)")
def test_ten_thousand_episodes_over_every_task_and_preset() -> None:
    combos = [(env_id, preset) for env_id in ENV_IDS for preset in PRESETS]
    per_combo = -(-EPISODES // len(combos))  # at least EPISODES in all
    growth = {}
    for env_id, preset in combos:
        env = gym.make(env_id, randomization=preset)
        try:
            env.action_space.seed(0)
            for episode in range(per_combo):
                if episode == WARM_UP:
                    before = resident_mb()
                env.reset(seed=episode)
                for _ in range(STEPS):
                    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                    if terminated or truncated:
                        break
            growth[env_id, preset] = resident_mb() - before
        finally:
            env.close()
        print(f"{env_id} {preset}: {per_combo} episodes, resident memory {growth[env_id, preset]:+.2f} MB")
    print(f"{per_combo * len(combos)} episodes, 0 crashes; largest growth {max(growth.values()):+.2f} MB")
    assert per_combo * len(combos) >= EPISODES
    assert max(growth.values()) < GROWTH_LIMIT_MB, growth
    assert np.isfinite(list(growth.values())).all()
