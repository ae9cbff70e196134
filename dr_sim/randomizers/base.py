"""What every randomizer shares: terms that draw values relative to a nominal snapshot.

A randomizer has two halves:

- ``sample(rng, step=None) -> params``: pure, returns a JSON-serialisable dict. With ``step=None`` it
  draws every term (an episode); with a step number it draws only the terms due at that step.
- ``apply(scene, params)``: the only side effect, applies whatever ``params`` holds.

``bind(scene)`` resolves selectors and captures nominal values; it runs again when the scene is
rebuilt. Values are always combined with the nominal snapshot, never with the last randomized
value, so nothing compounds across episodes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.config.params import _ParamBase
from dr_sim.config.schema import selector_patterns
from dr_sim.errors import ConfigError, SceneError
from dr_sim.scene.scene import Scene

Params = dict[str, Any]


@dataclass
class Term:
    """One randomized quantity (``name``) over named targets, each with a nominal value."""

    name: str
    spec: _ParamBase
    nominal: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        shape = self.spec.distribution.shape
        for target, nominal in self.nominal.items():
            try:
                fits = np.broadcast_shapes(nominal.shape, shape) == nominal.shape
            except ValueError:
                fits = False
            if not fits:
                expected = "a number" if nominal.shape == () else f"a number or a list of {nominal.size}"
                raise ConfigError(
                    f"{self.name}: draws of shape {shape or 'scalar'} do not fit {target!r}, whose value has "
                    f"shape {nominal.shape or 'scalar'}; give {expected}"
                )
            self.spec.check_nominal(self.name, target, nominal)  # op scale/add on it stays in the field's domain

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """Final values per target: the nominal combined with fresh draws by ``op``."""
        distribution = self.spec.distribution
        shared = distribution.sample_array(rng) if self.spec.shared else None
        values = {}
        for target, nominal in self.nominal.items():
            draw = shared if shared is not None else distribution.sample_array(rng)
            values[target] = _to_json(self.spec.combine(nominal, draw))
        return values


class Randomizer(ABC):
    """Base class; subclasses build ``self.terms`` in ``bind``."""

    #: Section name in the config and in ``info["randomization"]``.
    section: str = ""

    def __init__(self) -> None:
        self.terms: list[Term] = []

    @abstractmethod
    def bind(self, scene: Scene) -> None:
        """Resolve selectors against ``scene`` and capture nominal values."""

    @abstractmethod
    def apply(self, scene: Scene, params: Params) -> None:
        """Apply sampled values to the scene (the only side effect)."""

    def sample(self, rng: np.random.Generator, step: int | None = None) -> Params:
        """Draw every term (``step=None``) or the terms due at control step ``step``."""
        params: Params = {}
        for term in self.terms:
            if step is None or term.spec.due(step):
                params.setdefault(term.name, {}).update(term.draw(rng))
        return params

    @property
    def has_step_terms(self) -> bool:
        return any(term.spec.scope != "episode" for term in self.terms)

    def nominal_params(self) -> Params:
        """Parameters that set every term's targets to their nominal values (terms of one name from several
        config entries, ``*`` and ``object/*`` say, merge their targets)."""
        params: Params = {}
        for term in self.terms:
            params.setdefault(term.name, {}).update({target: _to_json(value) for target, value in term.nominal.items()})
        return params

    def neutral(self, scene: Scene) -> None:  # noqa: B027 (optional: most randomizers leave nothing that acts)
        """Take back what ``apply`` changed that would act on the env's own reset (dynamics, motor scales,
        shown distractors), so that the env's reset runs on its nominal scene. Nothing by default."""

    def changed_since(self, scene: Scene, applied: Params) -> set[str]:
        """Targets whose value in the scene is no longer what ``apply`` wrote (``applied``): the env
        changed them itself. Only the physics randomizer reads its values back; others report none."""
        return set()


def _to_json(value: np.ndarray) -> Any:
    array = np.asarray(value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array.tolist()


def resolve(
    select: Callable[[list[str]], list[Any]], selector: str | list[str], required: bool, where: str
) -> list[Any]:
    """Run a scene selector; an empty match is a ``ConfigError`` naming ``where`` (or [] if optional)."""
    try:
        return select(selector_patterns(selector))
    except SceneError as error:
        if not required:
            return []
        raise ConfigError(f"{where}.select: {error}") from None


def add_terms(
    terms: list[Term],
    entry: Any,
    fields: Iterable[str],
    targets: dict[str, Any],
    read_nominal: Callable[[str, Any], np.ndarray],
) -> None:
    """Append one term per configured field of ``entry`` over ``targets`` (name -> handle)."""
    for field_name in fields:
        spec = getattr(entry, field_name)
        if spec is None:
            continue
        nominal = {
            name: np.asarray(read_nominal(field_name, handle), dtype=np.float64) for name, handle in targets.items()
        }
        terms.append(Term(field_name, spec, nominal))
