"""The randomization engine: every randomizer of a config, bound to one scene.

Used by the ``DomainRandomization`` wrapper, the tasks and the preview. ``sample_episode`` and
``sample_step`` are pure (JSON-serialisable output); ``apply`` is the only side effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from dr_sim.config import ConfigSource, DRConfig, load_config
from dr_sim.randomizers.actuation import ActionChannel, ActuationRandomizer
from dr_sim.randomizers.appearance import AppearanceRandomizer
from dr_sim.randomizers.base import Params, Randomizer
from dr_sim.randomizers.camera import CameraRandomizer
from dr_sim.randomizers.distractors import DistractorRandomizer
from dr_sim.randomizers.image import ImageRandomizer
from dr_sim.randomizers.lighting import LightingRandomizer
from dr_sim.randomizers.physics import PhysicsRandomizer
from dr_sim.randomizers.sensing import SensingRandomizer
from dr_sim.randomizers.structure import StructureRandomizer
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene

EpisodeParams = dict[str, Any]


class RandomizationEngine:
    """Builds the randomizers of a config and keeps them bound to a scene.

    Args:
        config: anything ``load_config`` accepts.
        observation_space, action_space: the env's spaces (sensing and actuation need them).
        control_dt: the env's control period in seconds (for Peng's latency model).
        motors: a ``MotorHook`` on the env's BulletClient (for gain and force scales).
    """

    def __init__(
        self,
        config: ConfigSource,
        *,
        observation_space: spaces.Space[Any] | None = None,
        action_space: spaces.Space[Any] | None = None,
        control_dt: float | None = None,
        motors: MotorHook | None = None,
    ) -> None:
        self.config: DRConfig = load_config(config)
        c = self.config
        self.distractors = DistractorRandomizer(c.distractors) if c.distractors else None
        self.actuation = (
            ActuationRandomizer(c.actuation, action_space or spaces.Box(-1, 1), control_dt, motors)
            if c.actuation
            else None
        )
        self.sensing = SensingRandomizer(c.sensing, observation_space) if c.sensing and observation_space else None
        self.image = ImageRandomizer(c.image) if c.image else None
        self.structure = StructureRandomizer(c.structure, self.distractors) if c.structure else None
        named: list[tuple[str, Randomizer | None]] = [
            # Distractors bind first: their bank is hidden from the selectors of the others.
            ("distractors", self.distractors),
            ("physics", PhysicsRandomizer(c.physics) if c.physics else None),
            ("actuation", self.actuation),
            ("sensing", self.sensing),
            ("camera", CameraRandomizer(c.camera) if c.camera else None),
            ("lighting", LightingRandomizer(c.lighting) if c.lighting else None),
            # The structure binds after the distractors (it measures their bank), draws after every other
            # randomizer (it places the distractors they show) and applies after the camera and lighting.
            ("structure", self.structure),
            *[(f"appearance.{i}", AppearanceRandomizer(a, i)) for i, a in enumerate(c.appearance)],
            ("image", self.image),
        ]
        self.randomizers: dict[str, Randomizer] = {key: r for key, r in named if r is not None}
        self.scene: Scene | None = None
        self._signature: tuple[Any, ...] = ()
        self._step_keys: list[str] = []

    # -- binding ------------------------------------------------------------------------------
    def bind(self, scene: Scene) -> None:
        """Bind every randomizer to ``scene`` (resolves selectors, captures nominal values)."""
        self.scene = scene
        for randomizer in self.randomizers.values():
            randomizer.bind(scene)
        scene.mark()  # a body without the mark later is a new one
        self._signature = scene.signature()
        self._step_keys = [key for key, r in self.randomizers.items() if r.has_step_terms]

    def ensure_bound(self, scene: Scene) -> None:
        """Bind on first use, and rebind when bodies were re-created since (ids changed)."""
        if self.scene is scene:
            signature = scene.signature()
            if signature == self._signature:
                return
            marked_before = any(marked for *_, marked in self._signature)
            marked_now = any(marked for *_, marked in signature)
            if marked_before and not marked_now:  # every body is new: the simulation was reset, and the
                TexturePool.forget(scene.client_id)  # textures went with it (removed bodies keep them)
            scene.rebind()
        self.bind(scene)

    # -- sampling and applying ----------------------------------------------------------------
    def sample_episode(self, rng: np.random.Generator) -> EpisodeParams:
        """Draw every randomizer's episode parameters (JSON-serialisable)."""
        params = {key: r.sample(rng) for key, r in self.randomizers.items() if r is not self.structure}
        if self.structure is not None:
            params["structure"] = self.structure.arrange(rng, params)
        return params

    def sample_step(self, rng: np.random.Generator, step: int) -> EpisodeParams:
        """Draw the parameters due at control step ``step``; empty when none are."""
        drawn = {key: self.randomizers[key].sample(rng, step) for key in self._step_keys}
        return {key: params for key, params in drawn.items() if params}

    def apply(self, scene: Scene, params: EpisodeParams) -> None:
        """Apply parameters (all of an episode, or a step's subset) to the scene."""
        for key, randomizer in self.randomizers.items():
            if key in params:
                randomizer.apply(scene, params[key])

    @property
    def has_step_terms(self) -> bool:
        """Whether any bound term is re-drawn during an episode."""
        return bool(self._step_keys)

    # -- per-step processing ------------------------------------------------------------------
    def action_channel(self, params: EpisodeParams) -> ActionChannel | None:
        return self.actuation.channel(params.get("actuation", {})) if self.actuation else None

    def corrupt_observation(self, observation: Any, params: EpisodeParams, rng: np.random.Generator) -> Any:
        if self.sensing is None:
            return observation
        return self.sensing.corrupt(observation, params.get("sensing", {}), rng)

    def corrupt_image(self, rgb: np.ndarray, params: EpisodeParams, rng: np.random.Generator) -> np.ndarray:
        if self.image is None:
            return rgb
        return self.image.corrupt(rgb, params.get("image", {}), rng)


def merge_step(episode: EpisodeParams, step: EpisodeParams) -> EpisodeParams:
    """Episode parameters with a step's re-drawn values laid over them."""
    merged = dict(episode)
    for key, params in step.items():
        section: Params = dict(merged.get(key, {}))
        for name, values in params.items():
            section[name] = {**section.get(name, {}), **values} if isinstance(values, dict) else values
        merged[key] = section
    return merged
