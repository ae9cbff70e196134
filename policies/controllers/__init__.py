"""Scripted controllers for every registered task (``make_controller(env_id, env)``)."""

from __future__ import annotations

import importlib
from typing import Any

from dr_sim.errors import ConfigError, did_you_mean
from dr_sim.policies.controllers.base import Controller

# task id -> "module:class", imported when asked for
CONTROLLERS = {
    "dr_sim/PandaReach-v0": "dr_sim.policies.controllers.reach:ReachController",
    "dr_sim/KukaReach-v0": "dr_sim.policies.controllers.reach:ReachController",
    "dr_sim/PandaPush-v0": "dr_sim.policies.controllers.push:PushController",
    "dr_sim/PuckPush-v0": "dr_sim.policies.controllers.puck_push:PuckPushController",
    "dr_sim/PandaPickAndPlace-v0": "dr_sim.policies.controllers.pick_and_place:PickAndPlaceController",
    "dr_sim/Localize-v0": "dr_sim.policies.controllers.localize:LocalizeController",
}


def make_controller(env_id: str, env: Any) -> Controller:
    """The scripted controller of ``env_id``, made for ``env``."""
    if env_id not in CONTROLLERS:
        raise ConfigError(
            f"no scripted controller for {env_id!r}.{did_you_mean(env_id, CONTROLLERS)} Known: {', '.join(CONTROLLERS)}"
        )
    module, name = CONTROLLERS[env_id].split(":")
    controller: Controller = getattr(importlib.import_module(module), name)(env)
    return controller


__all__ = ["CONTROLLERS", "Controller", "make_controller"]
