"""The parameters a randomization config asks ``dr-sim calibrate`` to infer, and the configs built from them.

Every non-constant scalar parameter of the ``physics`` section (link dynamics, joint damping and friction)
and of ``actuation`` (``gain_scale``, ``force_scale``, ``latency_steps``, ``latency_rate``) is inferred:
its distribution is the prior, its ``op`` says how the inferred value (the *draw*) acts on each target's
nominal value (``set``: it is the value; ``scale``: a factor; ``add``: an offset), exactly as when the
config randomizes. One value is inferred per config entry and applies to every target of its selector.
A ``constant`` stays fixed at its value. Noise (``actuation.action_noise_std``, the ``sensing`` section)
and the visual sections are not inferred: replays leave them out (the discrepancy is robust to noise),
and the calibrated config keeps them as they were.

Search coordinates: each parameter's prior is boxed to ``[low, high]`` (its support, cut to the prior's
mean +- ``BOX_STDS`` standard deviations where it is unbounded) and mapped to ``z`` in [-1, 1], so that
estimators work on comparable scales. The map is linear, except for a ``log_uniform`` prior (a parameter
that spans decades: a mass factor from x0.1 to x10, a latency rate from 20 to 1000 1/s), which is mapped
in its logarithm: a factor of 2 is then the same step in ``z`` at x0.2 as at x5, the search starts at the
prior's geometric centre, and the posterior's Gaussian in ``z`` is a log-normal in the parameter's units
(the calibrated config's ``truncated_log_normal``). A prior that is itself a ``truncated_log_normal`` (a
calibrated config calibrated again) is mapped the same way.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.config import DRConfig, config_from_dict
from dr_sim.config.params import ChoiceParam, ConstantParam, _ParamBase
from dr_sim.config.schema import ActuationConfig, JointTerms, LinkTerms
from dr_sim.errors import ConfigError
from dr_sim.sampling import Distribution

ACTUATION_FIELDS = ("gain_scale", "force_scale", "latency_steps", "latency_rate")
NOISE_FIELDS = ("action_noise_std",)
ROUNDED = ("latency_steps",)  # whole steps: the value that acts is the draw rounded
BOX_STDS = 4.0
LAPLACE_STEP = 0.02  # z units
PRIOR_DRAWS = 2_000  # draws that give a prior's mean and std (a fixed generator: the same every run)
DISTRIBUTION_KEYS = ("type", "low", "high", "mean", "std", "median", "log_std", "values", "weights", "value")
LOG_TYPES = ("log_uniform", "truncated_log_normal")  # priors searched in their logarithm


@dataclass(frozen=True)
class Parameter:
    """One inferred parameter (see the module docstring).

    Attributes:
        key: the config path, ``physics.links[1].lateral_friction``.
        label: for people, ``lateral_friction of object/*``.
        op: ``set``, ``scale`` or ``add``.
        unit: the unit of the draw (``kg``, or ``x nominal`` for a factor).
        low, high: the box of the draw (its prior's support, bounded).
        prior_mean, prior_std: the prior's moments (the draw's units).
        log: whether the search coordinate maps the logarithm of the draw (a ``log_uniform`` prior).
        z_mean, z_std: the prior's moments in search coordinates.
    """

    key: str
    path: tuple[str | int, ...]
    label: str
    op: str
    unit: str
    low: float
    high: float
    prior_mean: float
    prior_std: float
    log: bool = False
    z_mean: float = 0.0
    z_std: float = 1.0

    def _affine(self) -> tuple[float, float]:
        """(centre, half width) of the box in the coordinate that maps linearly to ``z``: the draw, or its
        logarithm."""
        low, high = (float(np.log(self.low)), float(np.log(self.high))) if self.log else (self.low, self.high)
        return 0.5 * (low + high), 0.5 * (high - low)

    def to_value(self, z: float) -> float:
        """The draw at search coordinate ``z`` (clipped to [-1, 1])."""
        centre, half = self._affine()
        mapped = centre + half * float(np.clip(z, -1.0, 1.0))
        return float(np.exp(mapped)) if self.log else mapped

    def to_z(self, value: float) -> float:
        """The search coordinate of a draw."""
        centre, half = self._affine()
        return ((float(np.log(value)) if self.log else float(value)) - centre) / half

    def training_range(self, z_mean: float, z_std: float) -> dict[str, Any]:
        """The config entry (without ``op``) of the draw when ``z ~ N(z_mean, z_std^2)``, within the box: a
        ``truncated_log_normal`` for a logarithmic map (its ``log_std`` in natural-log units), a
        ``truncated_normal`` for a linear one (its ``std`` in draw units); at least ``1e-6`` of the box wide,
        as both distributions need a width."""
        _, half = self._affine()
        width = max(half * float(z_std), 1e-6 * 2.0 * half)
        centre = self.to_value(z_mean)
        if self.log:
            return {
                "type": "truncated_log_normal",
                "median": centre,
                "log_std": width,
                "low": self.low,
                "high": self.high,
            }
        return {"type": "truncated_normal", "mean": centre, "std": width, "low": self.low, "high": self.high}

    @property
    def laplace_step(self) -> float:
        """The finite-difference step (z units) that measures the likelihood's curvature: a whole step of a
        rounded parameter, else a small one."""
        return 2.0 / (self.high - self.low) if self.path[-1] in ROUNDED else LAPLACE_STEP

    def acting(self, value: float) -> float:
        """The value as it acts (``latency_steps`` is rounded to whole steps)."""
        return float(round(value)) if self.path[-1] in ROUNDED else float(value)


def config_mapping(config: DRConfig) -> dict[str, Any]:
    """The plain mapping of a validated config (it loads back to the same config)."""
    return config.model_dump(mode="json", exclude_none=True)


def find_parameters(config: DRConfig) -> list[Parameter]:
    """The parameters to infer (see the module docstring); one ``ConfigError`` for a parameter that cannot
    be inferred (a vector, a choice, one re-drawn during an episode) or for a config with none."""
    found: list[Parameter] = []
    if config.physics is not None:
        if config.physics.gravity is not None and not isinstance(config.physics.gravity, ConstantParam):
            raise ConfigError(
                "physics.gravity: calibrate infers scalar parameters; gravity is a 3-vector: make it a constant"
            )
        for i, links in enumerate(config.physics.links):
            found += _entry(links, ("physics", "links", i), LinkTerms)
        for i, joints in enumerate(config.physics.joints):
            found += _entry(joints, ("physics", "joints", i), JointTerms)
    if config.actuation is not None:
        found += _entry(config.actuation, ("actuation",), ActuationConfig, ACTUATION_FIELDS)
    if not found:
        raise ConfigError(
            "the calibration config infers nothing: give physics or actuation parameters a prior range "
            "(uniform, log_uniform, normal, truncated_normal or truncated_log_normal), e.g. physics.links[0].mass: "
            "{type: uniform, low: 0.1, high: 0.5}"
        )
    return found


def _entry(
    entry: Any, where: tuple[str | int, ...], model: type, fields: Sequence[str] | None = None
) -> list[Parameter]:
    names = fields or [name for name in model.model_fields if name not in ("select", "required")]
    select = getattr(entry, "select", "*")
    found = []
    for name in names:
        param = getattr(entry, name, None)
        if param is None or isinstance(param, ConstantParam):
            continue
        key = _key((*where, name))
        if isinstance(param, ChoiceParam):
            raise ConfigError(
                f"{key}: calibrate infers continuous parameters, and a choice is discrete: give a uniform, "
                "log_uniform, normal, truncated_normal or truncated_log_normal prior, or a constant to keep it fixed"
            )
        if param.scope != "episode":
            raise ConfigError(
                f"{key}: scope {param.scope!r} re-draws it during an episode; calibrate infers one value per "
                "episode: use scope: episode"
            )
        if param.distribution.shape != ():
            raise ConfigError(
                f"{key}: calibrate infers scalar parameters; this one draws shape {param.distribution.shape}: "
                "give one number per bound (one draw for every component)"
            )
        found.append(
            _parameter(param, (*where, name), key, physics_label(name, select) if where[0] == "physics" else name)
        )
    return found


def physics_label(name: str, select: str | Sequence[str]) -> str:
    """A physics parameter's label for people: ``mass of pusher/*`` for a link or joint entry's ``select``."""
    return f"{name} of {select if isinstance(select, str) else ', '.join(select)}"


def _parameter(param: _ParamBase, path: tuple[str | int, ...], key: str, label: str) -> Parameter:
    samples = fixed_draws(param.distribution)
    mean, std = float(samples.mean()), float(samples.std())
    low, high = (float(v) for v in param.distribution.support())
    low, high = max(low, mean - BOX_STDS * std), min(high, mean + BOX_STDS * std)
    if not high > low:
        raise ConfigError(f"{key}: its prior has no width ({low!r} to {high!r}); a fixed value is a constant")
    domain = param.domain
    unit = "x nominal" if param.op == "scale" else (domain.unit if domain is not None else "")
    log = param.type in LOG_TYPES and path[-1] not in ROUNDED
    parameter = Parameter(key, path, label, param.op, unit, low, high, mean, std, log)
    z = np.array([parameter.to_z(float(value)) for value in np.clip(samples, low, high)])
    return dataclasses.replace(parameter, z_mean=float(z.mean()), z_std=float(z.std()))


def _key(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _set(mapping: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = mapping
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _get(mapping: Mapping[str, Any], path: tuple[str | int, ...]) -> Any:
    node: Any = mapping
    for part in path:
        node = node[part]
    return node


def replay_mapping(config: DRConfig) -> dict[str, Any]:
    """The config replays run under: its ``physics`` and ``actuation`` sections without noise."""
    mapping = config_mapping(config)
    replay = {key: mapping[key] for key in ("physics", "actuation") if key in mapping}
    for name in NOISE_FIELDS:
        replay.get("actuation", {}).pop(name, None)
    return replay


def pinned_mapping(
    replay: Mapping[str, Any], parameters: Sequence[Parameter], values: Sequence[float]
) -> dict[str, Any]:
    """``replay`` with every parameter a ``constant`` at its value (draw units), keeping its ``op``."""
    mapping = copy.deepcopy(dict(replay))
    for parameter, value in zip(parameters, values, strict=True):
        spec = _get(mapping, parameter.path)
        kept = {key: item for key, item in spec.items() if key not in DISTRIBUTION_KEYS}
        _set(mapping, parameter.path, {**kept, "type": "constant", "value": float(value)})
    return mapping


def calibrated_mapping(
    config: DRConfig, parameters: Sequence[Parameter], ranges: Sequence[Mapping[str, Any]], origin: str
) -> tuple[dict[str, Any], DRConfig]:
    """``config`` with each parameter's range replaced by its ``ranges`` entry (``Parameter.training_range``;
    the ``op`` and the rest of the config kept), as a mapping and as the config the loader validated it into
    (schema and every physical domain)."""
    mapping = config_mapping(config)
    for parameter, entry in zip(parameters, ranges, strict=True):
        spec = _get(mapping, parameter.path)
        kept = {key: item for key, item in spec.items() if key not in DISTRIBUTION_KEYS}
        _set(mapping, parameter.path, {**kept, **entry})
    return mapping, config_from_dict(mapping, origin)


def fixed_draws(distribution: Distribution) -> np.ndarray:
    """``PRIOR_DRAWS`` scalar draws of ``distribution`` from a fixed generator: the same every run (means,
    stds and plots of priors and calibrated ranges, whose truncation moves them off the arguments)."""
    rng = np.random.default_rng(0)
    return np.array([float(distribution.sample_array(rng)) for _ in range(PRIOR_DRAWS)])


def draws_at(config: DRConfig, parameter: Parameter) -> np.ndarray:
    """``fixed_draws`` of ``parameter``'s range in ``config`` (the prior, or a calibrated config's range)."""
    node: Any = config
    for part in parameter.path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return fixed_draws(node.distribution)
