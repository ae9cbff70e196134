"""Register dr_sim's tasks with Gymnasium (string entry points: nothing is imported until made)."""

from __future__ import annotations

import gymnasium as gym

# id -> (entry point, max episode steps)
_TASKS = {
    "dr_sim/PandaReach-v0": ("dr_sim.envs.reach:PandaReachEnv", 50),
    "dr_sim/KukaReach-v0": ("dr_sim.envs.reach:KukaReachEnv", 50),
    "dr_sim/PandaPush-v0": ("dr_sim.envs.push:PandaPushEnv", 100),
    "dr_sim/PuckPush-v0": ("dr_sim.envs.puck_push:PuckPushEnv", 100),
    "dr_sim/PandaPickAndPlace-v0": ("dr_sim.envs.pick_and_place:PandaPickAndPlaceEnv", 100),
    "dr_sim/Localize-v0": ("dr_sim.envs.localize:LocalizeEnv", 1),
    "dr_sim/Detect-v0": ("dr_sim.envs.detect:DetectEnv", 1),
}
ENV_IDS = tuple(_TASKS)


def register_envs() -> None:
    """Register every task once (safe to call again)."""
    for env_id, (entry_point, max_steps) in _TASKS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps)
