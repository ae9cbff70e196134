"""Peng et al. 2018's dynamics-randomization study on PuckPush: which policies transfer to unseen dynamics.

``python -m studies.peng [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Four policies (``studies/harness/policies.py``: the config's ``base`` with each policy's keys laid over it):

- ``a_nominal``: no randomization;
- ``b_dynamics``: dynamics randomization with Peng's ranges where they apply (the ``physics`` preset:
  masses, damping, friction, controller gains, latency, observation and action noise);
- ``c_history``: (b) plus the last k observations and actions (``dr_sim.policies.history``);
- ``d_recurrent``: a recurrent policy (RecurrentPPO, sb3-contrib) under the same randomization.

Each is evaluated on every domain: ``nominal``, ``physics`` (the training domain of b-d) and the named
dynamics shifts shipped with dr_sim (``dr_sim/config/shifts``: outside every training range),
``episodes`` deterministic episodes each, and audited (success against each dynamics parameter). The
scripted controller is scored on the same domains as a reference for how hard each shift is.

Goals, on the shifted domains pooled: (a) <= 0.5 success, (b) >= 0.85, (c) and (d) >= (b); each policy
trains within 30 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studies.harness import Goal, goal_at_least, goal_at_most
from studies.harness.policies import POOLED, PolicyStudy, PolicyStudyConfig

GOAL_NOMINAL_MAX = 0.5
GOAL_DYNAMICS_MIN = 0.85


def by_letter(policies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Pooled shifted success by the policy's letter (``a_nominal`` -> ``a``)."""
    return {name.split("_")[0]: policy["domains"][POOLED]["success_rate"] for name, policy in policies.items()}


class PengStudy(PolicyStudy):
    """Policies (a)-(d) on PuckPush across dynamics shifts."""

    name = "peng"
    config_model = PolicyStudyConfig

    def title(self) -> str:
        return "Peng et al. 2018 dynamics study on PuckPush"

    def goals(self, policies: Mapping[str, Mapping[str, Any]]) -> list[Goal]:
        rate = by_letter(policies)
        found = []
        if "a" in rate:
            found.append(goal_at_most(f"(a) shifted success <= {GOAL_NOMINAL_MAX}", rate["a"], GOAL_NOMINAL_MAX))
        if "b" in rate:
            found.append(goal_at_least(f"(b) shifted success >= {GOAL_DYNAMICS_MIN}", rate["b"], GOAL_DYNAMICS_MIN))
            found += [
                goal_at_least(f"({k}) shifted success >= (b)'s {rate['b']:.2f}", rate[k], rate["b"])
                for k in ("c", "d")
                if k in rate
            ]
        return found
