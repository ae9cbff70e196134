"""The randomization config: one section per randomizer, every section optional.

Selectors are glob patterns (``fnmatch``) over qualified names: ``"body/link"`` for links,
``"body/joint"`` for joints (for example ``"panda/*finger*"``). A selector that matches nothing is an
error when the config is bound to a scene, unless its entry says ``required: false`` (the shipped
presets use that for bodies that only some scenes have).

Every randomized parameter declares its physical domain (``Domain``, ``dr_sim.config.params``): the values
the quantity may take where it acts, in the units its docstring gives. A config whose distribution can
reach outside it (checked on the distribution's support, combined with the nominal value by ``op``) is an
error when it is loaded, or, where the nominal comes from the scene, when it is bound.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from dr_sim.config.params import Domain, FiniteModel, Param, _ParamBase
from dr_sim.errors import did_you_mean
from dr_sim.image_files import IMAGE_SUFFIXES, list_images

Selector = str | list[str]


def selector_patterns(selector: Selector) -> list[str]:
    return [selector] if isinstance(selector, str) else list(selector)


def _positive(quantity: str, unit: str = "", **kwargs: Any) -> Domain:
    return Domain(quantity, unit, low=0.0, low_open=True, **kwargs)


def _non_negative(quantity: str, unit: str = "", **kwargs: Any) -> Domain:
    return Domain(quantity, unit, low=0.0, **kwargs)


def _fraction(quantity: str, **kwargs: Any) -> Domain:
    return Domain(quantity, low=0.0, high=1.0, **kwargs)


_FRICTION = "a friction coefficient is never negative"
_STD = "a standard deviation is never negative"
_LINKS, _JOINTS = "physics.links", "physics.joints"


class _Targeted(FiniteModel):
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

    mass: Annotated[
        Param | None, _positive("mass", "kg", shape=(), where=_LINKS, why="a body with mass 0 is static")
    ] = None
    inertia: Annotated[
        Param | None,
        _positive("inertia", "kg m^2", shape=(3,), where=_LINKS, why="the principal moments of a body are positive"),
    ] = None
    lateral_friction: Annotated[
        Param | None, _non_negative("lateral_friction", shape=(), where=_LINKS, why=_FRICTION)
    ] = None
    spinning_friction: Annotated[
        Param | None, _non_negative("spinning_friction", shape=(), where=_LINKS, why=_FRICTION)
    ] = None
    rolling_friction: Annotated[
        Param | None, _non_negative("rolling_friction", shape=(), where=_LINKS, why=_FRICTION)
    ] = None
    restitution: Annotated[
        Param | None, _fraction("restitution", shape=(), where=_LINKS, why="above 1 a bounce gains energy")
    ] = None
    linear_damping: Annotated[
        Param | None,
        _non_negative("linear_damping", shape=(), where=_LINKS, why="negative damping feeds energy into the body"),
    ] = None
    angular_damping: Annotated[
        Param | None,
        _non_negative("angular_damping", shape=(), where=_LINKS, why="negative damping feeds energy into the body"),
    ] = None
    contact_stiffness: Annotated[
        Param | None,
        _positive(
            "contact_stiffness", "N/m", shape=(), where=_LINKS, why="with no stiffness bodies sink through each other"
        ),
    ] = None
    contact_damping: Annotated[
        Param | None,
        _non_negative("contact_damping", "N s/m", shape=(), where=_LINKS, why="negative damping makes contacts bounce"),
    ] = None


class JointTerms(_Targeted):
    """Per-joint damping (N m s/rad) and dry friction (N m, a velocity motor with that force limit)."""

    damping: Annotated[
        Param | None,
        _non_negative("damping", "N m s/rad", shape=(), where=_JOINTS, why="negative damping feeds energy in"),
    ] = None
    friction: Annotated[
        Param | None,
        _non_negative("friction", "N m", shape=(), where=_JOINTS, why="it is the force limit of a braking motor"),
    ] = None


class PhysicsConfig(FiniteModel):
    """Link and joint dynamics, and ``gravity`` (m/s^2, a 3-vector: any direction and strength)."""

    gravity: Annotated[Param | None, Domain("gravity", "m/s^2", shape=(3,), where="physics")] = None
    links: list[LinkTerms] = Field(default_factory=list)
    joints: list[JointTerms] = Field(default_factory=list)


MAX_LATENCY_STEPS = 1000.0  # control steps of whole-step action delay


class ActuationConfig(FiniteModel):
    """Actuation: everything between the policy's action and the motors.

    ``action_noise_std`` is drawn per episode; per-step noise N(0, std) is then added to the action.
    ``latency_steps`` delays actions by whole control steps. ``latency_rate`` is Peng 2018's lambda
    (1/s): each step the new action starts ``Exp(lambda)`` seconds late, so for that fraction of the
    control period ``control_dt`` (s) the previous action still acts. ``gain_scale`` and
    ``force_scale`` multiply the position/velocity gains and the force limits of motor commands
    (select joints with ``select``). With ``required: false`` (the shipped presets) the parts that cannot
    act on an env are left out with a warning instead of an error: scales on a scene without such joints,
    noise and latency on a non-Box action space, ``latency_rate`` without a known control period.
    """

    select: Selector = "*"
    required: bool = True
    action_noise_std: Annotated[
        Param | None, _non_negative("action_noise_std", shape=(), nominal=0.0, where="actuation", why=_STD)
    ] = None
    latency_steps: Annotated[
        Param | None,
        Domain(
            "latency_steps",
            "control steps",
            low=0.0,
            high=MAX_LATENCY_STEPS,
            shape=(),
            nominal=0.0,
            where="actuation",
            why="whole steps of delay, one queued action each; more than the bound outlast any episode",
        ),
    ] = None
    latency_rate: Annotated[
        Param | None,
        _positive(
            "latency_rate",
            "1/s",
            shape=(),
            ops=("set",),
            ops_why="its nominal is no latency, an infinite rate, which no factor or offset changes",
            where="actuation",
            why="the rate of an exponential distribution",
        ),
    ] = None
    control_dt: float | None = Field(default=None, gt=0)
    gain_scale: Annotated[
        Param | None,
        _positive(
            "gain_scale",
            shape=(),
            nominal=1.0,
            where="actuation",
            why="a gain of 0 or below never drives a joint to its target",
        ),
    ] = None
    force_scale: Annotated[
        Param | None,
        _positive(
            "force_scale",
            shape=(),
            nominal=1.0,
            where="actuation",
            why="a motor whose force limit is 0 or below cannot drive its joint",
        ),
    ] = None


class SensingConfig(FiniteModel):
    """Observation bias (drawn per episode) plus per-step Gaussian noise with a per-episode std.

    ``keys`` picks entries of a Dict observation (default: every float Box entry). With ``required:
    false`` (the shipped presets) an observation without a float Box entry is left alone with a warning
    instead of an error.
    """

    required: bool = True
    keys: list[str] | None = None
    bias: Param | None = None
    noise_std: Annotated[Param | None, _non_negative("noise_std", nominal=0.0, where="sensing", why=_STD)] = None


class CameraSpec(FiniteModel):
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


class CameraConfig(FiniteModel):
    """Camera pose and intrinsics around the nominal ``CameraSpec``.

    ``eye`` (m, 3-vector), ``aim`` (rad, [yaw, pitch] of the viewing direction), ``roll`` (rad),
    ``fov`` (deg) and ``principal_point`` (px, [du, dv] from the image centre) combine with the
    nominal by their ``op``; the nominal aim, roll and principal point are 0.
    """

    nominal: CameraSpec | None = None
    eye: Annotated[Param | None, Domain("eye", "m", shape=(3,), where="camera")] = None
    aim: Annotated[Param | None, Domain("aim", "rad", shape=(2,), where="camera")] = None
    roll: Annotated[Param | None, Domain("roll", "rad", shape=(), where="camera")] = None
    fov: Annotated[
        Param | None,
        Domain(
            "fov",
            "deg",
            low=0.0,
            high=180.0,
            low_open=True,
            high_open=True,
            shape=(),
            where="camera",
            why="a vertical field of view; at 0 or below the image collapses or flips",
        ),
    ] = None
    principal_point: Annotated[Param | None, Domain("principal_point", "px", shape=(2,), where="camera")] = None


#: TinyRenderer's light, which ops ``scale`` and ``add`` start from (the lighting randomizer's nominal).
LIGHT_NOMINAL: dict[str, float | tuple[float, ...]] = {
    "direction": (0.5, 0.5, 1.0),
    "color": (1.0, 1.0, 1.0),
    "distance": 2.0,
    "ambient": 0.6,
    "diffuse": 0.35,
    "specular": 0.05,
    "intensity": 1.0,
    # the nominal direction (0.5, 0.5, 1) as angles: elevation asin(1 / sqrt(1.5)), azimuth 45 deg
    "elevation": math.degrees(math.asin(1.0 / math.sqrt(1.5))),
    "azimuth": 45.0,
}
_NEGATIVE_LIGHT = "a negative coefficient takes light away"
MIN_LIGHT_DIRECTION = 1e-9  # the lighting randomizer normalises directions at least this long


class LightingConfig(FiniteModel):
    """TinyRenderer light: direction (unit 3-vector after normalisation), RGB color in [0, 1],
    distance (m), ambient/diffuse/specular coefficients, and the probability of shadows.

    The direction may instead be given as ``elevation`` (deg above the horizontal, in [0, 90]) and
    ``azimuth`` (deg about z, 0 = +x, counter-clockwise seen from above); one given alone keeps the other
    at the nominal direction's (54.7 and 45 deg). ``intensity`` (>= 0, nominal 1) scales the light's own
    contribution, its diffuse and specular coefficients, and leaves the ambient light as it is.
    """

    direction: Annotated[
        Param | None,
        Domain(
            "direction",
            min_length=MIN_LIGHT_DIRECTION,
            shape=(3,),
            nominal=LIGHT_NOMINAL["direction"],
            where="lighting",
            why="a zero direction renders black",
        ),
    ] = None
    color: Annotated[
        Param | None,
        _fraction("color", shape=(3,), nominal=LIGHT_NOMINAL["color"], where="lighting", why="RGB channels"),
    ] = None
    distance: Annotated[
        Param | None, _positive("distance", "m", shape=(), nominal=LIGHT_NOMINAL["distance"], where="lighting")
    ] = None
    ambient: Annotated[
        Param | None,
        _non_negative("ambient", shape=(), nominal=LIGHT_NOMINAL["ambient"], where="lighting", why=_NEGATIVE_LIGHT),
    ] = None
    diffuse: Annotated[
        Param | None,
        _non_negative("diffuse", shape=(), nominal=LIGHT_NOMINAL["diffuse"], where="lighting", why=_NEGATIVE_LIGHT),
    ] = None
    specular: Annotated[
        Param | None,
        _non_negative("specular", shape=(), nominal=LIGHT_NOMINAL["specular"], where="lighting", why=_NEGATIVE_LIGHT),
    ] = None
    intensity: Annotated[
        Param | None,
        _non_negative("intensity", shape=(), nominal=LIGHT_NOMINAL["intensity"], where="lighting", why=_NEGATIVE_LIGHT),
    ] = None
    elevation: Annotated[
        Param | None,
        Domain(
            "elevation",
            "deg",
            low=0.0,
            high=90.0,
            shape=(),
            nominal=LIGHT_NOMINAL["elevation"],
            where="lighting",
            why="the light comes from the upper hemisphere (below the horizon it lights the table from beneath)",
        ),
    ] = None
    azimuth: Annotated[
        Param | None, Domain("azimuth", "deg", shape=(), nominal=LIGHT_NOMINAL["azimuth"], where="lighting")
    ] = None
    shadow_probability: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _one_direction(self) -> LightingConfig:
        if self.direction is not None and (self.elevation is not None or self.azimuth is not None):
            raise ValueError(
                "give the light's direction either as 'direction' (a 3-vector) or as 'elevation'/'azimuth' "
                "(deg), not both"
            )
        return self


TextureFamily = Literal["flat", "gradient", "checker", "stripes", "noise"]


class TextureConfig(FiniteModel):
    """A texture pool, loaded once when the scene is built.

    ``pool_size`` procedural textures (split over ``families``) at ``resolution`` px, plus every image
    in ``folders`` and their subfolders. ``probability`` is the chance that a selected link gets a
    texture in an episode.
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
            try:
                is_dir = path.is_dir()
            except OSError as error:  # a name too long for the file system, say
                raise ValueError(f"image folder {folder!r} cannot be read: {error.strerror}") from None
            if not is_dir:
                raise ValueError(f"image folder {folder!r} does not exist or is not a directory")
            if not list_images(path):
                raise ValueError(
                    f"image folder {folder!r} holds no image, nor do its subfolders "
                    f"({', '.join(sorted(IMAGE_SUFFIXES))})"
                )
        return folders

    @model_validator(mode="after")
    def _not_empty(self) -> TextureConfig:
        if self.pool_size == 0 and not self.folders:
            raise ValueError("the texture pool is empty: set pool_size > 0 or give image folders")
        if self.pool_size > 0 and not self.families:
            raise ValueError("pool_size > 0 needs at least one procedural family")
        return self


class AppearanceConfig(_Targeted):
    """Per-link colors (RGBA in [0, 1]) and pool textures multiplied by a random RGB ``tint``."""

    color: Annotated[
        Param | None, _fraction("color", shape=(4,), where="appearance", why="RGBA channels, alpha included")
    ] = None
    textures: TextureConfig | None = None
    tint: Annotated[
        Param | None, _fraction("tint", shape=(3,), nominal=(1.0, 1.0, 1.0), where="appearance", why="RGB channels")
    ] = None


MIN_DISTRACTOR_SIZE = 1e-3  # m: the smallest body the distractor bank builds
_DRAWN_AS_VALUES = "distractor sizes and colors are drawn as values, with no nominal to combine with"


class FlyingDistractors(FiniteModel):
    """Distractors that float in front of the camera instead of resting on a surface (Tremblay et al.
    2018): each shown distractor flies with ``probability``, its origin at a depth drawn uniformly in
    ``depth`` (m, ``[near, far]`` along the viewing axis of the scene's ``main`` camera in its nominal
    pose), at a uniform point of that camera's image (so inside its view frustum), at a uniformly random
    3-D orientation; it never collides. Give ``near`` beyond the camera's near plane plus half the largest
    distractor, or the renderer clips it."""

    probability: float = Field(ge=0, le=1)
    depth: list[float] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _check(self) -> FlyingDistractors:
        near, far = self.depth
        if not 0 < near <= far:
            raise ValueError(
                f"depth must be [near, far] in metres along the camera's viewing axis with 0 < near <= far, "
                f"got {self.depth}"
            )
        return self


class DistractorConfig(FiniteModel):
    """Up to ``max_count`` distractors drawn from a bank built once (never reloaded).

    ``count`` is rounded to an integer in [0, max_count]. Sizes (m) are drawn from ``size`` when
    the bank is built; positions (m) uniformly in the ``region`` box on ``height``. With ``textures``
    a distractor is textured with probability ``textured_probability``. With ``flying`` some float in
    front of the camera instead (``FlyingDistractors``); ``colliding_probability`` applies to the others.
    """

    max_count: int = Field(default=10, ge=0, le=64)
    count: Annotated[Param | None, _non_negative("count", shape=(), nominal=0.0, where="distractors")] = None
    kinds: list[Literal["primitive", "mesh"]] = Field(default_factory=lambda: ["primitive", "mesh"], min_length=1)
    mesh_ids: list[int] = Field(default_factory=lambda: [0, 899], min_length=2, max_length=2)
    size: Annotated[
        Param | None,
        Domain(
            "size",
            "m",
            low=MIN_DISTRACTOR_SIZE,
            shape=(),
            exact_shape=True,
            ops=("set",),
            ops_why=_DRAWN_AS_VALUES,
            where="distractors",
            why="a body's extent; the bank builds none smaller",
        ),
    ] = None
    region_low: list[float] = Field(default_factory=lambda: [-0.3, -0.3], min_length=2, max_length=2)
    region_high: list[float] = Field(default_factory=lambda: [0.3, 0.3], min_length=2, max_length=2)
    height: float = 0.0
    colliding_probability: float = Field(default=0.0, ge=0, le=1)
    color: Annotated[
        Param | None,
        _fraction(
            "color",
            shape=(4,),
            exact_shape=True,
            ops=("set",),
            ops_why=_DRAWN_AS_VALUES,
            where="distractors",
            why="RGBA channels, alpha included",
        ),
    ] = None
    textures: TextureConfig | None = None
    textured_probability: float = Field(default=0.5, ge=0, le=1)
    bank_seed: int = Field(default=0, ge=0)
    flying: FlyingDistractors | None = None

    @field_validator("count")
    @classmethod
    def _count_fits(cls, count: _ParamBase | None, info: ValidationInfo) -> _ParamBase | None:
        max_count = info.data.get("max_count")
        if count is None or count.domain is None or max_count is None:
            return count
        high = float(np.max(count.domain.bounds(count)[1]))
        if high > max_count:
            raise ValueError(
                f"count must lie in [0, max_count] = [0, {max_count}] (no more than max_count distractors are ever "
                f"shown); the distribution's support reaches {high!r}"
            )
        return count

    @model_validator(mode="after")
    def _check(self) -> DistractorConfig:
        low, high = self.mesh_ids
        if not 0 <= low <= high <= 999:
            raise ValueError(f"mesh_ids must be [low, high] with 0 <= low <= high <= 999, got {self.mesh_ids}")
        if any(lo > hi for lo, hi in zip(self.region_low, self.region_high, strict=True)):
            raise ValueError(f"region_low must be <= region_high, got {self.region_low} > {self.region_high}")
        return self


#: The image randomizer's neutral levels, which ops ``scale`` and ``add`` start from.
IMAGE_NOMINAL: dict[str, float] = {
    "brightness": 0.0,
    "contrast": 1.0,
    "saturation": 1.0,
    "hue": 0.0,
    "gamma": 1.0,
    "blur_sigma": 0.0,
    "noise_std": 0.0,
    "jpeg_quality": 100.0,
}
MAX_BLUR_SIGMA = 100.0  # px: the Gaussian kernel grows with sigma, and far below this the image is one colour
MIN_GAMMA = 1e-3  # the smallest exponent the image randomizer applies


class ImageConfig(FiniteModel):
    """Post-render corruption of RGB only (labels stay exact).

    ``noise_std`` in [0, 1] of full scale; ``blur_sigma`` px; ``brightness`` additive in [-1, 1];
    ``contrast`` and ``saturation`` multiplicative; ``hue`` a shift in degrees; ``gamma`` an exponent;
    ``jpeg_quality`` 1-100 (applied with ``jpeg_probability``).
    """

    noise_std: Annotated[
        Param | None,
        _fraction(
            "noise_std",
            shape=(),
            nominal=IMAGE_NOMINAL["noise_std"],
            where="image",
            why="a standard deviation in units of the full 0-1 intensity scale; at 1 the image is mostly noise",
        ),
    ] = None
    blur_sigma: Annotated[
        Param | None,
        Domain(
            "blur_sigma",
            "px",
            low=0.0,
            high=MAX_BLUR_SIGMA,
            shape=(),
            nominal=IMAGE_NOMINAL["blur_sigma"],
            where="image",
            why="a Gaussian's standard deviation; far below that bound the image is one flat colour",
        ),
    ] = None
    brightness: Annotated[
        Param | None,
        Domain(
            "brightness",
            low=-1.0,
            high=1.0,
            shape=(),
            nominal=IMAGE_NOMINAL["brightness"],
            where="image",
            why="an offset on the 0-1 intensity scale; at +-1 the image is one flat colour",
        ),
    ] = None
    contrast: Annotated[
        Param | None,
        _non_negative(
            "contrast",
            shape=(),
            nominal=IMAGE_NOMINAL["contrast"],
            where="image",
            why="a factor about the mean intensity; below 0 it inverts the image",
        ),
    ] = None
    saturation: Annotated[
        Param | None,
        _non_negative(
            "saturation", shape=(), nominal=IMAGE_NOMINAL["saturation"], where="image", why="a factor on saturation"
        ),
    ] = None
    hue: Annotated[Param | None, Domain("hue", "deg", shape=(), nominal=IMAGE_NOMINAL["hue"], where="image")] = None
    gamma: Annotated[
        Param | None,
        Domain(
            "gamma",
            low=MIN_GAMMA,
            shape=(),
            nominal=IMAGE_NOMINAL["gamma"],
            where="image",
            why="the exponent of intensity^gamma: at 0 every pixel turns white, and the image randomizer applies "
            "no smaller one",
        ),
    ] = None
    jpeg_quality: Annotated[
        Param | None,
        Domain(
            "jpeg_quality",
            low=1.0,
            high=100.0,
            shape=(),
            nominal=IMAGE_NOMINAL["jpeg_quality"],
            where="image",
            why="OpenCV's JPEG quality scale",
        ),
    ] = None
    jpeg_probability: float = Field(default=0.0, ge=0, le=1)


Range = Annotated[list[float], Field(min_length=2, max_length=2)]
STACKED = "stacked"  # the surface name of the tops of placed objects


def _ordered(value: list[float], what: str) -> list[float]:
    if value[0] > value[1]:
        raise ValueError(f"{what} must be [low, high] with low <= high, got {value}")
    return value


class SurfaceSpec(FiniteModel):
    """A horizontal support surface: the top of a scene body (``body``; its height is found by rays cast
    down onto it when the config is bound) or a plane at ``height`` (m). Objects stand wholly inside the
    x-y rectangle [``region_low``, ``region_high``] (m); for a body it defaults to the body's top less
    ``margin`` (m) on every side, a plane needs one."""

    body: str | None = None
    height: float | None = None
    region_low: list[float] | None = Field(default=None, min_length=2, max_length=2)
    region_high: list[float] | None = Field(default=None, min_length=2, max_length=2)
    margin: float = Field(default=0.02, ge=0)

    @model_validator(mode="after")
    def _check(self) -> SurfaceSpec:
        if (self.body is None) == (self.height is None):
            raise ValueError("give either 'body' (a scene body whose top supports objects) or 'height' (m, a plane)")
        if (self.region_low is None) != (self.region_high is None):
            raise ValueError("give both region_low and region_high (m, x-y), or neither")
        if self.height is not None and self.region_low is None:
            raise ValueError("a plane surface ('height') needs region_low and region_high (m, x-y)")
        low, high = self.region_low, self.region_high
        if low is not None and high is not None and any(lo > hi for lo, hi in zip(low, high, strict=True)):
            raise ValueError(f"region_low must be <= region_high, got {self.region_low} > {self.region_high}")
        return self


class TargetPlacement(FiniteModel):
    """The scene body the rules refer to (``body``, e.g. ``object``), standing upright at a random
    position and yaw on one of the surfaces named in ``stands_on``."""

    body: str
    stands_on: list[str] = Field(min_length=1)


class DistractorPlacement(FiniteModel):
    """Where the distractors shown (the ``distractors`` section's bank) stand.

    Each is placed near the target with ``near_probability`` (in a random direction from it, ``near_gap``
    m beyond the closest its box may come), occluding it with ``occlude_probability`` (between it and the
    camera, ``occlude_gap`` m beyond that), both on the target's level, else on a surface drawn
    from ``stands_on`` (names -> weights; ``stacked`` is the top of a placed box or cylinder distractor).
    """

    stands_on: dict[str, float] = Field(min_length=1)
    near_probability: float = Field(default=0.0, ge=0, le=1)
    occlude_probability: float = Field(default=0.0, ge=0, le=1)
    near_gap: Range = Field(default_factory=lambda: [0.0, 0.08])
    occlude_gap: Range = Field(default_factory=lambda: [0.0, 0.06])

    @field_validator("stands_on")
    @classmethod
    def _weights(cls, stands_on: dict[str, float]) -> dict[str, float]:
        if any(not weight >= 0 for weight in stands_on.values()) or not sum(stands_on.values()) > 0:
            raise ValueError(f"surface weights must be >= 0 with a positive sum, got {stands_on}")
        return stands_on

    @model_validator(mode="after")
    def _check(self) -> DistractorPlacement:
        if self.near_probability + self.occlude_probability > 1:
            raise ValueError(
                f"near_probability + occlude_probability must be <= 1, got "
                f"{self.near_probability} + {self.occlude_probability}"
            )
        _ordered(self.near_gap, "near_gap")
        _ordered(self.occlude_gap, "occlude_gap")
        if self.near_gap[0] < 0 or self.occlude_gap[0] < 0:
            raise ValueError("near_gap and occlude_gap are distances: they must be >= 0 m")
        return self


class VisibilityRule(FiniteModel):
    """Every rule-bound object (``objects``: the ``target`` or ``all`` placed objects) lies wholly inside
    the camera's image, ``margin`` px from its border, with at least ``min_fraction`` of its silhouette
    unhidden by other placed objects and support surfaces."""

    min_fraction: float = Field(gt=0, le=1)
    objects: Literal["target", "all"] = "target"
    margin: float = Field(default=0.0, ge=0)


class CameraMount(FiniteModel):
    """Plausible mount poses: the eye on a spherical cap around ``center`` (m) at ``distance`` (m),
    ``elevation`` (deg above the horizontal) and ``azimuth`` (deg about z, 0 = +x), area-uniform on the
    cap, aimed at ``center`` plus a uniform offset within +-``aim_jitter`` (m); poses whose eye height
    (m, world z) or tilt (deg, the optical axis below the horizontal) leave ``height`` or ``tilt`` are
    drawn again. ``roll`` (deg) turns the camera about its axis; ``fov`` scales its nominal field of view.
    ``camera`` names the scene's camera."""

    camera: str = "main"
    center: list[float] = Field(min_length=3, max_length=3)
    aim_jitter: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0], min_length=3, max_length=3)
    distance: Range
    elevation: Range
    azimuth: Range = Field(default_factory=lambda: [-180.0, 180.0])
    height: Range = Field(default_factory=lambda: [-1e9, 1e9])
    tilt: Range = Field(default_factory=lambda: [-90.0, 90.0])
    roll: Range = Field(default_factory=lambda: [0.0, 0.0])
    fov: Range = Field(default_factory=lambda: [1.0, 1.0])

    @model_validator(mode="after")
    def _check(self) -> CameraMount:
        for name in ("distance", "elevation", "azimuth", "height", "tilt", "roll", "fov"):
            _ordered(getattr(self, name), name)
        if self.distance[0] <= 0 or self.fov[0] <= 0:
            raise ValueError(f"distance and fov must be > 0, got distance {self.distance}, fov {self.fov}")
        if not (self.elevation[0] >= -90 and self.elevation[1] <= 90):
            raise ValueError(f"elevation must lie in [-90, 90] deg, got {self.elevation}")
        if any(jitter < 0 for jitter in self.aim_jitter):
            raise ValueError(f"aim_jitter holds half-widths (m): they must be >= 0, got {self.aim_jitter}")
        low, high = _eye_heights(self)
        if high < self.height[0] or low > self.height[1]:
            raise ValueError(
                f"no pose of the cap meets height {self.height}: its eyes lie between {low:.3f} and {high:.3f} m; "
                "widen height or move the cap (center, distance, elevation)"
            )
        return self


def _eye_heights(mount: CameraMount) -> tuple[float, float]:
    """The lowest and highest eye (m, world z) of a mount's cap."""
    sines = [math.sin(math.radians(e)) for e in mount.elevation]
    ends = [mount.center[2] + r * s for r in mount.distance for s in sines]
    return min(ends), max(ends)


class LightHemisphere(FiniteModel):
    """The light comes from the upper hemisphere: ``elevation`` (deg above the horizontal, within
    [0, 90]) and ``azimuth`` (deg about z), area-uniform on that band of the sky."""

    elevation: Range = Field(default_factory=lambda: [10.0, 90.0])
    azimuth: Range = Field(default_factory=lambda: [-180.0, 180.0])

    @model_validator(mode="after")
    def _check(self) -> LightHemisphere:
        _ordered(self.elevation, "elevation")
        _ordered(self.azimuth, "azimuth")
        if not (self.elevation[0] >= 0 and self.elevation[1] <= 90):
            raise ValueError(f"elevation must lie in [0, 90] deg (the upper hemisphere), got {self.elevation}")
        return self


class SettleSpec(FiniteModel):
    """Dynamic placed objects start ``drop`` m above their surface and fall for ``steps`` physics steps
    before the first frame; the settled state is recorded in the episode's parameters."""

    steps: int = Field(default=120, ge=0, le=10_000)
    drop: float = Field(default=0.002, ge=0, le=0.1)


class StructureConfig(FiniteModel):
    """Structured domain randomization (Prakash et al. 2019): scenes built by their context.

    Placement is bounded rejection sampling: each object gets ``attempts`` draws, each scene
    ``scene_attempts``; when no scene meets the rules, one error names the rule that failed most. A
    distractor drawn to stand near or in front of the target gets ``context_attempts`` draws there before
    it is placed freely.
    ``spacing`` (m) is the least gap between the boxes of placed objects.
    """

    surfaces: dict[str, SurfaceSpec] = Field(min_length=1)
    target: TargetPlacement | None = None
    distractors: DistractorPlacement | None = None
    spacing: float = Field(default=0.005, ge=0)
    visibility: VisibilityRule | None = None
    camera: CameraMount | None = None
    lights: LightHemisphere | None = None
    settle: SettleSpec = Field(default_factory=SettleSpec)
    attempts: int = Field(default=60, ge=1, le=10_000)
    context_attempts: int = Field(default=12, ge=1, le=10_000)
    scene_attempts: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> StructureConfig:
        if STACKED in self.surfaces:
            raise ValueError(f"{STACKED!r} names the tops of placed objects; give the surface another name")
        known = list(self.surfaces)
        if self.target is not None:
            for name in self.target.stands_on:
                _known_surface(name, known, "target.stands_on", stacked=False)
        if self.distractors is not None:
            for name in self.distractors.stands_on:
                _known_surface(name, known, "distractors.stands_on", stacked=True)
            if (self.distractors.near_probability or self.distractors.occlude_probability) and self.target is None:
                raise ValueError("distractors near or occluding the target need a 'target'")
        if self.visibility is not None and self.visibility.objects == "target" and self.target is None:
            raise ValueError("visibility.objects 'target' needs a 'target'")
        occluding = self.distractors is not None and self.distractors.occlude_probability > 0
        if occluding and self.visibility is not None and self.visibility.min_fraction >= 1:
            raise ValueError(
                "visibility.min_fraction 1 (the whole target visible) can never hold with occluding distractors "
                "(distractors.occlude_probability > 0): lower one of them"
            )
        return self


def _known_surface(name: str, known: list[str], where: str, stacked: bool) -> None:
    allowed = [*known, STACKED] if stacked else known
    if name == STACKED and not stacked:
        raise ValueError(f"{where}: the target stands on a named surface ({', '.join(known)}), not {STACKED!r}")
    if name not in allowed:
        hint = did_you_mean(name, allowed)
        raise ValueError(f"{where}: unknown surface {name!r}.{hint} Surfaces: {', '.join(allowed)}")


class DRConfig(FiniteModel):
    """A whole randomization config. An empty config randomizes nothing."""

    physics: PhysicsConfig | None = None
    actuation: ActuationConfig | None = None
    sensing: SensingConfig | None = None
    camera: CameraConfig | None = None
    lighting: LightingConfig | None = None
    appearance: list[AppearanceConfig] = Field(default_factory=list)
    distractors: DistractorConfig | None = None
    image: ImageConfig | None = None
    structure: StructureConfig | None = None

    @model_validator(mode="after")
    def _structure_fits(self) -> DRConfig:
        structure = self.structure
        if structure is None:
            return self
        if structure.distractors is not None and self.distractors is None:
            raise ValueError(
                "structure.distractors places the bank of the 'distractors' section: add a distractors section"
            )
        pose_terms = [] if self.camera is None else [f for f in _CAMERA_TERMS if getattr(self.camera, f) is not None]
        if pose_terms and (structure.camera is not None or structure.visibility is not None):
            rule = "structure.camera draws the camera pose" if structure.camera else "structure.visibility checks views"
            raise ValueError(
                f"{rule}, but camera.{pose_terms[0]} also randomizes the camera: remove camera."
                f"{', camera.'.join(pose_terms)} (keep camera.nominal for the intrinsics)"
            )
        if structure.lights is not None and self.lighting is not None and self.lighting.direction is not None:
            raise ValueError(
                "structure.lights draws the light direction, but lighting.direction does too: remove lighting.direction"
            )
        return self


_CAMERA_TERMS = ("eye", "aim", "roll", "fov", "principal_point")
