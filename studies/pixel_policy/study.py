"""A pixel policy: PuckPush trained end to end from 64 px RGB under visual + physics randomization, and
whether it transfers to a held-out look and to held-out dynamics.

``python -m studies.pixel_policy [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Two policies over the config's ``base`` (SAC with SB3's CNN on the image and the commanded goal, DrQ-style
random shifts of the training batches, ``dr_sim.policies.image_augmentation``), trained with the same
budget:

- ``a_visual_physics``: the ``visual`` and ``physics`` presets together (the training randomization);
- ``b_physics_only``: the baseline, ``physics`` alone (no visual randomization).

Every randomization here (training and evaluation) is built from the config's ``looks`` (presets, shift
names or randomization YAMLs laid over one another, ``dr_sim.config.overlay``) and then seen through one
camera, the ``rig``: the nominal camera of the perception study's held-out look
(``studies/heldout/randomization.yaml``), an overhead view of the whole table. The held-out look applies
to PuckPush as it is (its selectors name the table and the floor, its distractors do not collide), and
the rig makes its camera offsets the only camera change from training. Domains: the nominal scene, the
training randomization, the held-out look, and the Peng study's dynamics shifts (``dr_sim/config/shifts``)
in the nominal look, ``episodes`` deterministic episodes each, success with Wilson 95% intervals.

Goals: (a) at least 0.8 success on the held-out look, with its interval's lower bound above the
baseline's upper bound; each policy trains within 60 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from dr_sim.config import load_config
from dr_sim.config.loader import read_yaml_mapping
from dr_sim.config.overlay import overlay
from dr_sim.errors import ConfigError
from dr_sim.policies.rl_evaluation import resolve_domain, sweep
from studies.harness import Goal, Point, goal_at_least
from studies.harness.policies import PolicyStudy, PolicyStudyConfig
from studies.heldout.textures import write_textures

HELDOUT_GOAL = 0.8  # success on the held-out look
TRAINED = "a_visual_physics"
BASELINE = "b_physics_only"
HELDOUT = "heldout_look"


class PixelPolicyConfig(PolicyStudyConfig):
    """A policy study whose randomizations are named ``looks`` seen through one camera ``rig``."""

    rig: str  # a randomization YAML whose camera.nominal every policy and domain observes through
    looks: dict[str, list[str]] = Field(default_factory=dict)  # name -> parts laid over one another
    reference: bool = False  # the scripted controller reads the state, which these envs do not observe


class PixelPolicyStudy(PolicyStudy):
    """Policies (a) and (b) on PuckPush from pixels, across looks and dynamics shifts."""

    name = "pixel_policy"
    config_model = PixelPolicyConfig
    config: PixelPolicyConfig
    train_limit_s = 60 * 60.0

    def policy_keys(self, name: str) -> dict[str, Any]:
        randomization = (self.config.policies[name] or {}).get("randomization", self.config.base.get("randomization"))
        return {"randomization": self.randomization(randomization)}

    def camera(self) -> dict[str, Any]:
        """The rig: the ``camera.nominal`` of the ``rig`` YAML."""
        rig = read_yaml_mapping(self.path(self.config.rig), "rig")
        nominal = (rig.get("camera") or {}).get("nominal")
        if not isinstance(nominal, dict):
            raise ConfigError(f"rig {self.config.rig}: it has no camera.nominal")
        return {"camera": {"nominal": nominal}}

    def part(self, name: str) -> dict[str, Any] | None:
        """One part of a look: ``nominal``, a preset, a shift name or a YAML relative to the config."""
        domain = str(self.path(name)) if name.lower().endswith((".yaml", ".yml")) else name
        return resolve_domain(domain, None)[1]  # type: ignore[arg-type]  # no "train" here: no config needed

    def randomization(self, name: str | None) -> dict[str, Any]:
        """The look ``name`` (a ``looks`` entry, or one part) seen through the rig, validated."""
        parts = self.config.looks.get(name, [name]) if name is not None else []
        merged: dict[str, Any] = {}
        for part in parts:
            merged = overlay(merged, self.part(part) or {})
        merged = overlay(merged, self.camera())
        load_config(merged)  # one ConfigError naming a bad key
        return merged

    def evaluation(self) -> dict[str, Any]:
        write_textures()  # the held-out look's photographs, which its validation reads (kept when written)
        domains = {name: self.randomization(None if name == "nominal" else name) for name in self.config.domains}
        return {"domains": domains, "episodes": self.config.episodes, "seed": self.config.seed}

    def prepare(self) -> None:
        write_textures()  # the held-out look's photographs (kept when written before)

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        run = self.suite.train(point.name)
        domains = point.settings["domains"]
        self.log(f"{point.name}: evaluating on {', '.join(domains)} ({self.config.episodes} episodes each)")
        results = sweep(run, list(domains.items()), self.config.episodes, self.config.seed, progress=True)
        return {
            "run": str(run),
            "training": self.suite.training(point.name),
            "domains": {name: result.as_dict() for name, result in zip(domains, results, strict=True)},
        }

    def title(self) -> str:
        return "A pixel policy on PuckPush under visual + physics randomization"

    def goals(self, policies: Mapping[str, Mapping[str, Any]]) -> list[Goal]:
        if TRAINED not in policies:
            return []
        trained = policies[TRAINED]["domains"].get(HELDOUT)
        if trained is None:
            return []
        found = [
            goal_at_least(f"({TRAINED}) held-out look success >= {HELDOUT_GOAL}", trained["success_rate"], HELDOUT_GOAL)
        ]
        baseline = policies.get(BASELINE, {}).get("domains", {}).get(HELDOUT)
        if baseline is not None:
            found.append(
                Goal(
                    f"({TRAINED}) held-out look lower bound > ({BASELINE})'s upper bound {baseline['ci_high']:.2f}",
                    trained["ci_low"],
                    trained["ci_low"] > baseline["ci_high"],
                )
            )
        return found
