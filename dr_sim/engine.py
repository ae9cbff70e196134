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
from dr_sim.randomizers.physics import LINK_FIELDS, PhysicsRandomizer
from dr_sim.randomizers.sensing import SensingRandomizer
from dr_sim.randomizers.structure import StructureRandomizer
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene, changed_targets

EpisodeParams = dict[str, Any]
#: Nominal snapshot keys of dynamics: where an env that randomizes itself shows (``changed_by_env``).
DYNAMICS_KEYS = frozenset({*LINK_FIELDS, "joint_damping", "joint_friction", "gravity"})


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
        #: Targets whose nominal values the env itself changed between resets of an unchanged world.
        self.changed_by_env: set[str] = set()

    # -- binding ------------------------------------------------------------------------------
    def bind(self, scene: Scene) -> None:
        """Bind every randomizer to ``scene`` (resolves selectors, captures nominal values)."""
        self.scene = scene
        for randomizer in self.randomizers.values():
            randomizer.bind(scene)
        scene.mark()  # a body without the mark later is a new one
        self._signature = scene.signature()
        self._step_keys = [key for key, r in self.randomizers.items() if r.has_step_terms]

    def ensure_bound(self, scene: Scene) -> bool:
        """Bind on first use, and rebind when bodies were re-created since (ids changed); whether it bound.

        A world re-created with the same bodies whose nominal values differ from the last snapshot is an
        env that randomizes itself: its targets join ``changed_by_env``."""
        before: dict[tuple[str, str], Any] = {}
        if self.scene is scene:
            signature = scene.signature()
            if signature == self._signature:
                return False
            marked_before = any(marked for *_, marked in self._signature)
            marked_now = any(marked for *_, marked in signature)
            if marked_before and not marked_now:  # every body is new: the simulation was reset, and the
                TexturePool.forget(scene.client_id)  # textures went with it (removed bodies keep them)
            before = scene.snapshot()
            scene.rebind()
        elif scene.stale():  # first bound to a scene whose bodies changed since it was read
            scene.rebind()
        self.bind(scene)
        self.changed_by_env |= changed_targets(before, scene.snapshot(), DYNAMICS_KEYS)
        return True

    def neutral(self) -> None:
        """Before the env's own reset: every randomizer takes back what would act on it (``Randomizer.neutral``),
        so that the env's start state never depends on the episode before. Nothing before the first bind, and
        nothing once a body it bound to was re-created; bodies added since (another wrapper's distractors)
        leave the bound ones as they were."""
        if self.scene is not None and set(self._signature) <= set(self.scene.signature()):
            for randomizer in self.randomizers.values():
                randomizer.neutral(self.scene)

    def note_env_changes(self, scene: Scene, expected: EpisodeParams | None) -> None:
        """Compare the scene with what it should hold before the next episode is applied: ``expected`` (the
        last episode's parameters), or the nominal values when ``neutral`` ran since (``None``). Parameters
        the env changed itself in its reset join ``changed_by_env``."""
        for key, randomizer in self.randomizers.items():
            values = randomizer.nominal_params() if expected is None else expected.get(key)
            if values:
                self.changed_by_env |= randomizer.changed_since(scene, values)

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
