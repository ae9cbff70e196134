"""Register dr_sim's tasks with Gymnasium (string entry points: nothing is imported until made)."""

from __future__ import annotations

import gymnasium as gym

# id -> (entry point, max episode steps)
_TASKS = {
    "dr_sim/PandaReach-v0": ("dr_sim.envs.reach:PandaReachEnv", 50),
}
ENV_IDS = tuple(_TASKS)


def register_envs() -> None:
    """Register every task once (safe to call again)."""
    for env_id, (entry_point, max_steps) in _TASKS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps)
