"""The randomization config: one section per randomizer, every section optional.

Selectors are glob patterns (``fnmatch``) over qualified names: ``"body/link"`` for links,
``"body/joint"`` for joints (for example ``"panda/*finger*"``). A selector that matches nothing is an
error when the config is bound to a scene, unless its entry says ``required: false`` (the shipped
presets use that for bodies that only some scenes have).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from dr_sim.config.params import Param, StrictModel
from dr_sim.errors import did_you_mean
from dr_sim.image_files import IMAGE_SUFFIXES, list_images

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
    (select joints with ``select``). With ``required: false`` (the shipped presets) the parts that cannot
    act on an env are left out with a warning instead of an error: scales on a scene without such joints,
    noise and latency on a non-Box action space, ``latency_rate`` without a known control period.
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

    ``keys`` picks entries of a Dict observation (default: every float Box entry). With ``required:
    false`` (the shipped presets) an observation without a float Box entry is left alone with a warning
    instead of an error.
    """

    required: bool = True
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
            if not path.is_dir():
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


Range = Annotated[list[float], Field(min_length=2, max_length=2)]
STACKED = "stacked"  # the surface name of the tops of placed objects


def _ordered(value: list[float], what: str) -> list[float]:
    if value[0] > value[1]:
        raise ValueError(f"{what} must be [low, high] with low <= high, got {value}")
    return value


class SurfaceSpec(StrictModel):
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


class TargetPlacement(StrictModel):
    """The scene body the rules refer to (``body``, e.g. ``object``), standing upright at a random
    position and yaw on one of the surfaces named in ``stands_on``."""

    body: str
    stands_on: list[str] = Field(min_length=1)


class DistractorPlacement(StrictModel):
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


class VisibilityRule(StrictModel):
    """Every rule-bound object (``objects``: the ``target`` or ``all`` placed objects) lies wholly inside
    the camera's image, ``margin`` px from its border, with at least ``min_fraction`` of its silhouette
    unhidden by other placed objects and support surfaces."""

    min_fraction: float = Field(gt=0, le=1)
    objects: Literal["target", "all"] = "target"
    margin: float = Field(default=0.0, ge=0)


class CameraMount(StrictModel):
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


class LightHemisphere(StrictModel):
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


class SettleSpec(StrictModel):
    """Dynamic placed objects start ``drop`` m above their surface and fall for ``steps`` physics steps
    before the first frame; the settled state is recorded in the episode's parameters."""

    steps: int = Field(default=120, ge=0, le=10_000)
    drop: float = Field(default=0.002, ge=0, le=0.1)


class StructureConfig(StrictModel):
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
