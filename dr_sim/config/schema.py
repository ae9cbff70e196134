"""The randomization config: one section per randomizer, every section optional.

Selectors are glob patterns (``fnmatch``) over qualified names: ``"body/link"`` for links,
``"body/joint"`` for joints (for example ``"panda/*finger*"``). A selector that matches nothing is an
error when the config is bound to a scene, unless its entry says ``required: false`` (the shipped
presets use that for bodies that only some scenes have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dr_sim.config.params import Param, StrictModel

Selector = str | list[str]


def selector_patterns(selector: Selector) -> list[str]:
    return [selector] if isinstance(selector, str) else list(selector)


class _Targeted(StrictModel):
    select: Selector = "*"
    required: bool = True

    @field_validator("select")
    @classmethod
    def _non_empty(cls, value: Selector) -> Selector:
        patterns = selector_patterns(value)
        if not patterns or any(not p.strip() for p in patterns):
            raise ValueError(f"a selector must be a non-empty glob such as 'panda/*', got {value!r}")
        return value


class LinkTerms(_Targeted):
    """Per-link dynamics (``changeDynamics``). Units: kg, kg m^2, N/m, N s/m."""

    mass: Param | None = None
    inertia: Param | None = None
    lateral_friction: Param | None = None
    spinning_friction: Param | None = None
    rolling_friction: Param | None = None
    restitution: Param | None = None
    linear_damping: Param | None = None
    angular_damping: Param | None = None
    contact_stiffness: Param | None = None
    contact_damping: Param | None = None


class JointTerms(_Targeted):
    """Per-joint damping (N m s/rad) and dry friction (N m, a velocity motor with that force limit)."""

    damping: Param | None = None
    friction: Param | None = None


class PhysicsConfig(StrictModel):
    gravity: Param | None = None
    links: list[LinkTerms] = Field(default_factory=list)
    joints: list[JointTerms] = Field(default_factory=list)


class ActuationConfig(StrictModel):
    """Actuation: everything between the policy's action and the motors.

    ``action_noise_std`` is drawn per episode; per-step noise N(0, std) is then added to the action.
    ``latency_steps`` delays actions by whole control steps. ``latency_rate`` is Peng 2018's lambda
    (1/s): each step the new action starts ``Exp(lambda)`` seconds late, so for that fraction of the
    control period ``control_dt`` (s) the previous action still acts. ``gain_scale`` and
    ``force_scale`` multiply the position/velocity gains and the force limits of motor commands
    (select joints with ``select``; with ``required: false`` a scene without such joints is no error).
    """

    select: Selector = "*"
    required: bool = True
    action_noise_std: Param | None = None
    latency_steps: Param | None = None
    latency_rate: Param | None = None
    control_dt: float | None = Field(default=None, gt=0)
    gain_scale: Param | None = None
    force_scale: Param | None = None


class SensingConfig(StrictModel):
    """Observation bias (drawn per episode) plus per-step Gaussian noise with a per-episode std.

    ``keys`` picks entries of a Dict observation (default: every float Box entry).
    """

    keys: list[str] | None = None
    bias: Param | None = None
    noise_std: Param | None = None


class CameraSpec(StrictModel):
    """A pinhole camera: positions in metres, field of view in degrees (vertical)."""

    eye: list[float] = Field(default_factory=lambda: [1.0, 0.0, 0.8], min_length=3, max_length=3)
    target: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0], min_length=3, max_length=3)
    up: list[float] = Field(default_factory=lambda: [0.0, 0.0, 1.0], min_length=3, max_length=3)
    fov: float = Field(default=45.0, gt=0, lt=180)
    near: float = Field(default=0.01, gt=0)
    far: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _near_far(self) -> CameraSpec:
        if self.near >= self.far:
            raise ValueError(f"near must be < far, got near={self.near}, far={self.far}")
        return self


class CameraConfig(StrictModel):
    """Camera pose and intrinsics around the nominal ``CameraSpec``.

    ``eye`` (m, 3-vector), ``aim`` (rad, [yaw, pitch] of the viewing direction), ``roll`` (rad),
    ``fov`` (deg) and ``principal_point`` (px, [du, dv] from the image centre) combine with the
    nominal by their ``op``; the nominal aim, roll and principal point are 0.
    """

    nominal: CameraSpec | None = None
    eye: Param | None = None
    aim: Param | None = None
    roll: Param | None = None
    fov: Param | None = None
    principal_point: Param | None = None


class LightingConfig(StrictModel):
    """TinyRenderer light: direction (unit 3-vector after normalisation), RGB color in [0, 1],
    distance (m), ambient/diffuse/specular coefficients, and the probability of shadows."""

    direction: Param | None = None
    color: Param | None = None
    distance: Param | None = None
    ambient: Param | None = None
    diffuse: Param | None = None
    specular: Param | None = None
    shadow_probability: float = Field(default=0.0, ge=0, le=1)


TextureFamily = Literal["flat", "gradient", "checker", "stripes", "noise"]


class TextureConfig(StrictModel):
    """A texture pool, loaded once when the scene is built.

    ``pool_size`` procedural textures (split over ``families``) at ``resolution`` px, plus every image
    in ``folders``. ``probability`` is the chance that a selected link gets a texture in an episode.
    """

    families: list[TextureFamily] = Field(default_factory=lambda: ["flat", "gradient", "checker"])
    folders: list[str] = Field(default_factory=list)
    pool_size: int = Field(default=64, ge=0, le=100_000)
    resolution: int = Field(default=64, ge=4, le=1024)
    pool_seed: int = Field(default=0, ge=0)
    probability: float = Field(default=1.0, ge=0, le=1)

    @field_validator("folders")
    @classmethod
    def _folders_exist(cls, folders: list[str]) -> list[str]:
        for folder in folders:
            try:
                path = Path(folder).expanduser()
            except RuntimeError:  # "~name" for a user that does not exist
                path = Path(folder)
            if not path.is_dir():
                raise ValueError(f"image folder {folder!r} does not exist or is not a directory")
            if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
                raise ValueError(f"image folder {folder!r} holds no image ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return folders

    @model_validator(mode="after")
    def _not_empty(self) -> TextureConfig:
        if self.pool_size == 0 and not self.folders:
            raise ValueError("the texture pool is empty: set pool_size > 0 or give image folders")
        if self.pool_size > 0 and not self.families:
            raise ValueError("pool_size > 0 needs at least one procedural family")
        return self


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


class AppearanceConfig(_Targeted):
    """Per-link colors (RGBA in [0, 1]) and pool textures multiplied by a random RGB ``tint``."""

    color: Param | None = None
    textures: TextureConfig | None = None
    tint: Param | None = None


class DistractorConfig(StrictModel):
    """Up to ``max_count`` distractors drawn from a bank built once (never reloaded).

    ``count`` is rounded to an integer in [0, max_count]. Sizes (m) are drawn from ``size`` when
    the bank is built; positions (m) uniformly in the ``region`` box on ``height``. With ``textures``
    a distractor is textured with probability ``textured_probability``.
    """

    max_count: int = Field(default=10, ge=0, le=64)
    count: Param | None = None
    kinds: list[Literal["primitive", "mesh"]] = Field(default_factory=lambda: ["primitive", "mesh"], min_length=1)
    mesh_ids: list[int] = Field(default_factory=lambda: [0, 899], min_length=2, max_length=2)
    size: Param | None = None
    region_low: list[float] = Field(default_factory=lambda: [-0.3, -0.3], min_length=2, max_length=2)
    region_high: list[float] = Field(default_factory=lambda: [0.3, 0.3], min_length=2, max_length=2)
    height: float = 0.0
    colliding_probability: float = Field(default=0.0, ge=0, le=1)
    color: Param | None = None
    textures: TextureConfig | None = None
    textured_probability: float = Field(default=0.5, ge=0, le=1)
    bank_seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> DistractorConfig:
        low, high = self.mesh_ids
        if not 0 <= low <= high <= 999:
            raise ValueError(f"mesh_ids must be [low, high] with 0 <= low <= high <= 999, got {self.mesh_ids}")
        if any(lo > hi for lo, hi in zip(self.region_low, self.region_high, strict=True)):
            raise ValueError(f"region_low must be <= region_high, got {self.region_low} > {self.region_high}")
        return self


class ImageConfig(StrictModel):
    """Post-render corruption of RGB only (labels stay exact).

    ``noise_std`` in [0, 1] of full scale; ``blur_sigma`` px; ``brightness`` additive in [-1, 1];
    ``contrast`` and ``saturation`` multiplicative; ``hue`` a shift in degrees; ``gamma`` an exponent;
    ``jpeg_quality`` 1-100 (applied with ``jpeg_probability``).
    """

    noise_std: Param | None = None
    blur_sigma: Param | None = None
    brightness: Param | None = None
    contrast: Param | None = None
    saturation: Param | None = None
    hue: Param | None = None
    gamma: Param | None = None
    jpeg_quality: Param | None = None
    jpeg_probability: float = Field(default=0.0, ge=0, le=1)


class DRConfig(StrictModel):
    """A whole randomization config. An empty config randomizes nothing."""

    physics: PhysicsConfig | None = None
    actuation: ActuationConfig | None = None
    sensing: SensingConfig | None = None
    camera: CameraConfig | None = None
    lighting: LightingConfig | None = None
    appearance: list[AppearanceConfig] = Field(default_factory=list)
    distractors: DistractorConfig | None = None
    image: ImageConfig | None = None
