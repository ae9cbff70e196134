"""Physical domains of randomized parameters: a config whose distribution can reach a value the simulator or
renderer cannot take (a negative mass, a zero light direction, ...) is one ``ConfigError`` naming the key, the
offending value and the allowed domain, when it is loaded or, where the nominal comes from the scene, when it
is bound. Shipped presets and example configs load; fuzzed configs load or raise ``ConfigError``, and the
values drawn from any config that loads stay in their domains."""

from __future__ import annotations

import string
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from dr_sim.config import PRESETS, SHIFTS_DIR, DRConfig, config_from_dict, load_config
from dr_sim.config.overlay import overlay
from dr_sim.config.params import PARAM_TYPES, Domain, _ParamBase
from dr_sim.config.schema import ActuationConfig
from dr_sim.engine import RandomizationEngine
from dr_sim.errors import ConfigError
from dr_sim.randomizers import actuation
from dr_sim.sampling import Choice, Constant, LogUniform, Normal, TruncatedNormal, Uniform
from dr_sim.scene import Scene
from dr_sim.scene.camera import Camera, CameraState

NAN, INF = float("nan"), float("inf")


def uniform(low: Any, high: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "uniform", "low": low, "high": high, **extra}


def constant(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "constant", "value": value, **extra}


def normal(mean: Any, std: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "normal", "mean": mean, "std": std, **extra}


def link(**terms: Any) -> dict[str, Any]:
    return {"physics": {"links": [{"select": "*", **terms}]}}


def joint(**terms: Any) -> dict[str, Any]:
    return {"physics": {"joints": [{"select": "*", **terms}]}}


# ---- physically impossible or malformed configs, rejected when loaded ----------------------------
# (id, config, fragments of the message: the key path, the offending value or bound, the allowed domain)
IMPOSSIBLE: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    # the cases of the issue
    (
        "negative_mass",
        link(mass=uniform(-2, -1)),
        ("physics.links[0].mass:", "-2.0", "mass must be > 0 kg", "static"),
    ),
    (
        "unbounded_normal_friction",
        link(lateral_friction=normal(0, 100)),
        ("physics.links[0].lateral_friction:", "-inf", "must be >= 0", "truncated_normal with low >= 0"),
    ),
    (
        "negative_fov_scale",
        {"camera": {"fov": uniform(-1.2, -0.8, op="scale")}},
        ("camera.fov:", "-1.2", "fov must lie in (0, 180) deg", "factor must be > 0"),
    ),
    ("negative_gamma", {"image": {"gamma": uniform(-0.5, 1.0)}}, ("image.gamma:", "-0.5", "gamma must be >= 0.001")),
    (
        "image_noise_std_50",
        {"image": {"noise_std": uniform(0, 50)}},
        ("image.noise_std:", "50.0", "noise_std must lie in [0, 1]"),
    ),
    (
        "zero_light_direction",
        {"lighting": {"direction": constant([0, 0, 0])}},
        ("lighting.direction:", "[0.0, 0.0, 0.0]", "non-zero length", "renders black"),
    ),
    (
        "negative_gain_scale",
        {"actuation": {"gain_scale": uniform(-1, 2)}},
        ("actuation.gain_scale:", "-1.0", "gain_scale must be > 0"),
    ),
    (
        "negative_latency_rate",
        {"actuation": {"latency_rate": uniform(-10, 100)}},
        ("actuation.latency_rate:", "-10.0", "latency_rate must be > 0 1/s"),
    ),
    # link dynamics
    ("zero_mass", link(mass=constant(0)), ("physics.links[0].mass:", "0.0", "> 0 kg")),
    (
        "mass_scale_reaching_zero",
        link(mass=uniform(0, 2, op="scale")),
        ("physics.links[0].mass:", "0.0", "factor must be > 0", "> 0 kg"),
    ),
    (
        "mass_add_unbounded",
        link(mass=normal(0.5, 0.1, op="add")),
        ("physics.links[0].mass:", "-inf", "> 0 kg", "truncated_normal"),
    ),
    (
        "negative_inertia_factor",
        link(inertia=constant(-0.5, op="scale")),
        ("physics.links[0].inertia:", "-0.5", "inertia must be > 0 kg m^2"),
    ),
    (
        "inertia_of_two_components",
        link(inertia=uniform([1e-3, 1e-3], [2e-3, 2e-3])),
        ("physics.links[0].inertia:", "a vector of 3", "got a vector of 2"),
    ),
    (
        "negative_spinning_friction",
        link(spinning_friction=constant(-0.1)),
        ("physics.links[0].spinning_friction:", "-0.1", ">= 0"),
    ),
    (
        "negative_rolling_friction_choice",
        link(rolling_friction={"type": "choice", "values": [0.01, -0.01]}),
        ("physics.links[0].rolling_friction:", "-0.01", ">= 0"),
    ),
    (
        "restitution_above_one",
        link(restitution={"type": "truncated_normal", "mean": 0.5, "std": 1.0, "low": 0.0, "high": 1.5}),
        ("physics.links[0].restitution:", "1.5", "must lie in [0, 1]", "gains energy"),
    ),
    ("negative_linear_damping", link(linear_damping=constant(-0.1)), ("linear_damping:", "-0.1", ">= 0")),
    (
        "angular_damping_add_unbounded",
        link(angular_damping=normal(0, 0.1, op="add")),
        ("physics.links[0].angular_damping:", "-inf", ">= 0"),
    ),
    ("zero_contact_stiffness", link(contact_stiffness=constant(0.0)), ("contact_stiffness:", "0.0", "> 0 N/m")),
    (
        "negative_contact_damping",
        link(contact_damping=uniform(-10, 10)),
        ("physics.links[0].contact_damping:", "-10.0", ">= 0 N s/m"),
    ),
    (
        "joint_damping_normal",
        joint(damping=normal(0.1, 0.05)),
        ("physics.joints[0].damping:", "-inf", ">= 0 N m s/rad", "truncated_normal with low >= 0"),
    ),
    ("negative_joint_friction", joint(friction=constant(-1)), ("physics.joints[0].friction:", "-1.0", ">= 0 N m")),
    # actuation and sensing
    (
        "negative_action_noise",
        {"actuation": {"action_noise_std": {"type": "choice", "values": [-0.1, 0.1]}}},
        ("actuation.action_noise_std:", "-0.1", ">= 0"),
    ),
    (
        "latency_steps_too_many",
        {"actuation": {"latency_steps": uniform(0, 1e6)}},
        ("actuation.latency_steps:", "1000000.0", "must lie in [0, 1000] control steps"),
    ),
    ("negative_latency_steps", {"actuation": {"latency_steps": constant(-1)}}, ("latency_steps:", "-1.0", "[0, 1000]")),
    (
        "latency_rate_scaled",
        {"actuation": {"latency_rate": constant(2.0, op="scale")}},
        ("actuation.latency_rate:", "op 'scale' cannot act", "infinite rate", "use op: set"),
    ),
    ("zero_force_scale", {"actuation": {"force_scale": constant(0)}}, ("actuation.force_scale:", "0.0", "> 0")),
    (
        "force_scale_add_below_zero",
        {"actuation": {"force_scale": constant(-1.5, op="add")}},
        ("actuation.force_scale:", "op add on the nominal 1.0", "-0.5", "> 0"),
    ),
    (
        "negative_sensing_noise",
        {"sensing": {"noise_std": uniform(-0.1, 0.1)}},
        ("sensing.noise_std:", "-0.1", "noise_std must be >= 0"),
    ),
    # camera
    ("fov_of_180", {"camera": {"fov": constant(180.0)}}, ("camera.fov:", "180.0", "(0, 180) deg")),
    (
        "fov_add_unbounded",
        {"camera": {"fov": normal(0, 2, op="add")}},
        ("camera.fov:", "-inf", "(0, 180) deg", "truncated_normal"),
    ),
    ("eye_of_two_components", {"camera": {"eye": uniform([0, 0], [1, 1], op="add")}}, ("camera.eye:", "vector of 3")),
    # lighting
    (
        "light_direction_box_around_zero",
        {"lighting": {"direction": uniform([-1, -1, -1], [1, 1, 1])}},
        ("lighting.direction:", "[-1.0, -1.0, -1.0]", "zero vector", "non-zero length"),
    ),
    (
        "light_direction_scaled_to_zero",
        {"lighting": {"direction": {"type": "choice", "values": [1.0, 0.0], "op": "scale"}}},
        ("lighting.direction:", "op scale on the nominal [0.5, 0.5, 1.0]", "[0.0, 0.0, 0.0]", "non-zero length"),
    ),
    (
        "light_color_above_one",
        {"lighting": {"color": uniform([0.5] * 3, [1.5] * 3, op="scale")}},
        ("lighting.color:", "1.5", "color must lie in [0, 1]"),
    ),
    ("zero_light_distance", {"lighting": {"distance": constant(0)}}, ("lighting.distance:", "0.0", "> 0 m")),
    ("negative_ambient", {"lighting": {"ambient": uniform(-0.2, 0.5)}}, ("lighting.ambient:", "-0.2", ">= 0")),
    ("negative_light_intensity", {"lighting": {"intensity": normal(1, 0.5)}}, ("lighting.intensity:", "-inf", ">= 0")),
    (
        "light_below_the_horizon",
        {"lighting": {"elevation": uniform(-30, 60)}},
        ("lighting.elevation:", "-30.0", "[0, 90] deg", "upper hemisphere"),
    ),
    (
        "specular_offset_below_zero",
        {"lighting": {"specular": constant(-0.1, op="add")}},
        ("lighting.specular:", "op add on the nominal 0.05", "-0.05", ">= 0"),
    ),
    # appearance and distractors
    (
        "negative_link_color",
        {"appearance": [{"color": uniform([-0.1, 0, 0, 1], [1, 1, 1, 1])}]},
        ("appearance[0].color:", "-0.1", "must lie in [0, 1]", "RGBA"),
    ),
    (
        "tint_scaled_above_one",
        {"appearance": [{"tint": constant(2.0, op="scale")}]},
        ("appearance[0].tint:", "2.0", "[0, 1]"),
    ),
    (
        "more_distractors_than_max_count",
        {"distractors": {"max_count": 5, "count": uniform(0, 10)}},
        ("distractors.count:", "10.0", "[0, 5]"),
    ),
    ("negative_distractor_count", {"distractors": {"count": uniform(-3, 3)}}, ("distractors.count:", "-3.0", ">= 0")),
    ("zero_distractor_size", {"distractors": {"size": uniform(0, 0.1)}}, ("distractors.size:", "0.0", ">= 0.001 m")),
    (
        "distractor_size_added",
        {"distractors": {"size": uniform(0.01, 0.1, op="add")}},
        ("distractors.size:", "op 'add' cannot act", "use op: set"),
    ),
    (
        "distractor_color_rgb",
        {"distractors": {"color": uniform([0, 0, 0], [1, 1, 1])}},
        ("distractors.color:", "vector of 4", "got a vector of 3"),
    ),
    # image
    ("negative_blur", {"image": {"blur_sigma": constant(-1)}}, ("image.blur_sigma:", "-1.0", "[0, 100] px")),
    ("huge_blur", {"image": {"blur_sigma": uniform(0, 1e4)}}, ("image.blur_sigma:", "10000.0", "[0, 100] px")),
    ("brightness_beyond_one", {"image": {"brightness": uniform(-0.2, 2)}}, ("image.brightness:", "2.0", "[-1, 1]")),
    ("negative_contrast", {"image": {"contrast": constant(-2, op="scale")}}, ("image.contrast:", "-2.0", ">= 0")),
    ("negative_saturation", {"image": {"saturation": uniform(-1, 1)}}, ("image.saturation:", "-1.0", ">= 0")),
    ("zero_jpeg_quality", {"image": {"jpeg_quality": constant(0)}}, ("image.jpeg_quality:", "0.0", "[1, 100]")),
    (
        "gamma_normal",
        {"image": {"gamma": normal(1.0, 0.1)}},
        ("image.gamma:", "-inf", ">= 0.001", "truncated_normal with low >= 0.001"),
    ),
    (
        "image_noise_offset",
        {"image": {"noise_std": constant(2.0, op="add")}},
        ("image.noise_std:", "op add on the nominal 0.0", "2.0", "[0, 1]"),
    ),
    # numbers no float field may hold
    ("infinite_far_plane", {"camera": {"nominal": {"far": INF}}}, ("camera.nominal.far:", "finite number", "inf")),
    ("nan_distractor_height", {"distractors": {"height": NAN}}, ("distractors.height:", "finite number", "nan")),
    (
        "uniform_span_overflows",
        {"physics": {"gravity": uniform(-1e308, 1e308)}},
        ("physics.gravity:", "high - low must be a finite number", "1e+308"),
    ),
    (
        "normal_std_overflows",
        {"sensing": {"bias": normal(0, 1e308)}},
        ("sensing.bias:", "std is too large", "1e+308"),
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), IMPOSSIBLE, ids=[case[0] for case in IMPOSSIBLE])
def test_impossible_value_is_one_config_error(name: str, data: dict[str, Any], expected: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(data)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config: ")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_the_domain_message_reads_as_the_issue_asks() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(link(mass=uniform(-2, -1)))
    assert str(info.value) == (
        "config: physics.links[0].mass: mass must be > 0 kg (a body with mass 0 is static); "
        "the distribution's support reaches -2.0 kg"
    )


def test_enough_impossible_configs_are_covered() -> None:
    assert len(IMPOSSIBLE) >= 30
    assert len({case[0] for case in IMPOSSIBLE}) == len(IMPOSSIBLE)


# ---- what stays allowed ----------------------------------------------------------------------------
ALLOWED = [
    link(mass=uniform(0.1, 0.4)),
    link(mass={"type": "log_uniform", "low": 0.25, "high": 4.0, "op": "scale"}),
    link(mass=uniform(-0.05, 0.5, op="add")),  # the nominal decides: checked when bound
    link(restitution={"type": "truncated_normal", "mean": 0.5, "std": 1.0, "low": 0.0, "high": 1.0}),
    link(lateral_friction=normal(0.8, 0.0)),  # std 0: every draw is the mean
    {"camera": {"fov": uniform(0.5, 1.5, op="scale"), "eye": normal([0, 0, 0], 0.01, op="add")}},
    {"lighting": {"direction": {"type": "choice", "values": [[1, 0, 0], [-1, 0, 0]]}}},  # never the zero vector
    {"lighting": {"direction": uniform([-1, -1, 0.1], [1, 1, 1])}},
    {"image": {"noise_std": uniform(0, 1), "gamma": {"type": "log_uniform", "low": 0.5, "high": 2}}},
    {"image": {"brightness": uniform(-1, 1), "hue": normal(0, 30)}},  # hue is any angle
    {"actuation": {"latency_steps": uniform(0, 1000), "gain_scale": constant(-0.5, op="add")}},
    {"sensing": {"bias": normal(0, 0.1), "noise_std": constant(0.0)}},
    {"physics": {"gravity": normal([0, 0, -9.81], [0, 0, 0.5])}},
    {"distractors": {"max_count": 3, "count": {"type": "choice", "values": [0, 3]}}},
]


@pytest.mark.parametrize("data", ALLOWED)
def test_values_inside_the_domain_load(data: dict[str, Any]) -> None:
    assert isinstance(load_config(data), DRConfig)


def test_declared_actuation_nominals_are_the_randomizers() -> None:
    """Ops ``scale`` and ``add`` are checked on the nominal the schema declares: it is the one that acts (the
    lighting and image randomizers take theirs from the schema; actuation keeps its own table)."""
    for name, nominal in actuation.NEUTRAL.items():
        domain = _domain_of(ActuationConfig, name)
        assert domain is not None
        if name == "latency_rate":  # no finite nominal: only op set
            assert domain.ops == ("set",)
        else:
            assert domain.nominal == nominal, name


def _domain_of(model: type[BaseModel], field: str) -> Domain | None:
    return next((m for m in model.model_fields[field].metadata if isinstance(m, Domain)), None)


def test_every_randomized_field_declares_a_domain() -> None:
    undeclared = [
        f"{model.__name__}.{name}"
        for model in _models(DRConfig)
        for name, info in model.model_fields.items()
        if "UniformParam" in str(info.annotation) and _domain_of(model, name) is None
    ]
    assert undeclared == ["SensingConfig.bias"]  # any finite offset, of an observation's shape


# ---- shipped and example configs ----------------------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name: str) -> None:
    assert isinstance(load_config(name), DRConfig)


def _with_texture_folders(data: Any, folder: Path) -> Any:
    """``data`` with texture folders that do not exist here (written by a study) replaced by ``folder``."""
    if isinstance(data, dict):
        return {
            key: (
                [f if Path(f).is_dir() else str(folder) for f in value]
                if key == "folders"
                else _with_texture_folders(value, folder)
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_with_texture_folders(item, folder) for item in data]
    return data


def _randomization_files(root: Path) -> list[Path]:
    """The YAML files among the examples, studies and shipped shifts whose keys are randomization sections
    (the others are study, training or generator configs)."""
    candidates = [
        *sorted((root / "launch" / "configs").glob("*.yaml")),
        *sorted((root / "studies").glob("*/*.yaml")),
        *sorted(SHIFTS_DIR.glob("*.yaml")),
    ]
    return [
        path
        for path in candidates
        if isinstance(data := yaml.safe_load(path.read_text()), dict)
        and data
        and set(data) <= set(DRConfig.model_fields)
    ]


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "textures"
    folder.mkdir()
    (folder / "wood.png").write_bytes(b"a texture the check does not decode")
    return folder


def test_example_and_study_randomization_configs_load(repo_root: Path, image_folder: Path) -> None:
    files = _randomization_files(repo_root)
    names = {path.relative_to(repo_root).as_posix() for path in files if repo_root in path.parents}
    assert "launch/configs/sdr_localize.yaml" in names
    assert "studies/adr/large.yaml" in names
    assert "studies/heldout/randomization.yaml" in names
    assert "studies/modular/look.yaml" in names
    for path in files:
        data = _with_texture_folders(yaml.safe_load(path.read_text()), image_folder)
        assert isinstance(config_from_dict(data, origin=str(path)), DRConfig), path


def test_study_randomization_sections_and_arms_load(studies_root: Path, image_folder: Path) -> None:
    perception = yaml.safe_load((studies_root / "perception" / "config.yaml").read_text())
    base = perception["randomization"]
    for arm, patch in perception["arms"].items():
        assert isinstance(config_from_dict(overlay(base, patch), origin=arm), DRConfig)
    for name, variant in perception["heldout"]["variants"].items():
        heldout = yaml.safe_load((studies_root / "heldout" / "randomization.yaml").read_text())
        data = _with_texture_folders(overlay(heldout, variant.get("randomization", {})), image_folder)
        assert isinstance(config_from_dict(data, origin=name), DRConfig)


def test_adr_hard_limits_stay_in_the_domains(studies_root: Path) -> None:
    """ADR widens every range up to its hard limits: the widest randomization is checked when it starts."""
    from dr_sim.adr.config import AdrConfig
    from dr_sim.adr.ranges import check_randomization

    study = yaml.safe_load((studies_root / "adr" / "config.yaml").read_text())
    adr = AdrConfig.model_validate(study["policies"]["d_adr"]["adr"])
    check_randomization(adr, None)
    dimension = {"path": "actuation.gain_scale", "nominal": 1.0, "limits": [-1.0, 5.0], "step": 0.5}
    with pytest.raises(ConfigError, match=r"actuation\.gain_scale: gain_scale must be > 0.*-1\.0"):
        check_randomization(AdrConfig.model_validate({"dimensions": {"gain": dimension}}), None)


# ---- checks that need the scene's nominal: at bind time --------------------------------------------
@pytest.fixture
def client() -> Iterator[int]:
    cid = p.connect(p.DIRECT)
    p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
    p.loadURDF("plane.urdf", physicsClientId=cid)  # a static body: mass 0
    p.loadURDF("franka_panda/panda.urdf", useFixedBase=True, physicsClientId=cid)
    p.loadURDF("cube_small.urdf", [0.5, 0.0, 0.5], physicsClientId=cid)  # 0.1 kg, no contact stiffness (-1)
    yield cid
    p.disconnect(cid)


def bind(client: int, config: dict[str, Any], fov: float = 50.0) -> RandomizationEngine:
    engine = RandomizationEngine(config)
    scene = Scene(client)
    state = CameraState(np.array([1.0, 0.0, 1.0]), np.zeros(3), np.array([0.0, 0.0, 1.0]), fov, 0.01, 5.0)
    scene.cameras["main"] = Camera(client, 32, 24, state)
    engine.bind(scene)
    engine.apply(scene, engine.sample_episode(np.random.default_rng(0)))
    return engine


AT_BIND: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    (
        "mass_offset_below_zero",
        {"physics": {"links": [{"select": "cube/*", "mass": uniform(-0.5, 0.5, op="add")}]}},
        ("physics.links.mass:", "'cube/baseLink'", "nominal 0.1 kg", "-0.4 kg", "> 0 kg"),
    ),
    (
        "contact_stiffness_scaled_when_unset",
        {
            "physics": {
                "links": [
                    {
                        "select": "cube/*",
                        "contact_stiffness": uniform(0.5, 2.0, op="scale"),
                        "contact_damping": constant(10.0),
                    }
                ]
            }
        },
        ("physics.links.contact_stiffness:", "'cube/baseLink'", "nominal -1.0", "> 0 N/m", "op: set"),
    ),
    (
        "joint_damping_offset_below_zero",
        {"physics": {"joints": [{"select": "panda/panda_joint1", "damping": uniform(-1, 1, op="add")}]}},
        ("physics.joints.damping:", "'panda/panda_joint1'", "-1.0", ">= 0 N m s/rad"),
    ),
    (
        "restitution_offset_above_one",
        {"physics": {"links": [{"select": "panda/panda_link1", "restitution": uniform(0.5, 1.5, op="add")}]}},
        ("physics.links.restitution:", "'panda/panda_link1'", "1.5", "[0, 1]"),
    ),
    (
        "fov_offset_past_180",
        {"camera": {"fov": uniform(0.0, 140.0, op="add")}},
        ("camera.fov:", "'main'", "nominal 50.0 deg", "190.0 deg", "(0, 180) deg"),
    ),
    (
        "link_color_scaled_above_one",
        {"appearance": [{"select": "panda/*", "color": constant(3.0, op="scale")}]},
        ("appearance.color:", "'panda/", "[0, 1]"),
    ),
]


@pytest.mark.parametrize(("name", "config", "expected"), AT_BIND, ids=[case[0] for case in AT_BIND])
def test_op_on_a_scene_nominal_outside_the_domain_fails_at_bind(
    client: int, name: str, config: dict[str, Any], expected: tuple[str, ...]
) -> None:
    load_config(config)  # the config alone cannot tell
    with pytest.raises(ConfigError) as info:
        bind(client, config)
    message = str(info.value)
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_scaling_a_static_body_keeps_it_static(client: int) -> None:
    """``select: '*'`` with a mass scale (the physics preset) meets the plane and the panda's fixed base, whose
    mass is 0: a scale leaves them at the scene's own 0, which is no error."""
    config = {"physics": {"links": [{"select": "*", "mass": uniform(0.5, 2.0, op="scale")}]}}
    engine = bind(client, config)
    params = engine.sample_episode(np.random.default_rng(1))["physics"]["mass"]
    assert params["plane/planeLink"] == 0.0
    assert params["panda/panda_link0"] == 0.0
    assert params["cube/baseLink"] > 0.0


def test_offsets_that_stay_in_the_domain_bind(client: int) -> None:
    config = {
        "physics": {"links": [{"select": "cube/*", "mass": uniform(-0.05, 0.5, op="add")}]},
        "camera": {"fov": uniform(-10.0, 10.0, op="add")},
    }
    params = bind(client, config).sample_episode(np.random.default_rng(2))
    assert params["physics"]["mass"]["cube/baseLink"] >= 0.05
    assert 40.0 <= params["camera"]["fov"]["main"] <= 60.0


# ---- fuzzing: load_config returns a config or raises ConfigError, and loaded draws stay in domain ---
def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every config model reachable from ``root`` (parameters excluded), ``root`` first."""
    found: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in found or issubclass(model, _ParamBase):
            return
        found.append(model)
        for info in model.model_fields.values():
            for inner in _classes(info.annotation):
                visit(inner)

    visit(root)
    return found


def _classes(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [c for arg in typing.get_args(annotation) for c in _classes(arg)]


WORDS = st.text(alphabet=string.ascii_lowercase[:6], max_size=3)  # never an existing folder's name
SPECIAL = st.sampled_from([0, -0.0, 1, -1, 1e308, -1e308, 5e-324, 10**400, NAN, INF, -INF, 1000, 64, 180])
# Mostly numbers near the domains' bounds (0, 1, 180, ...), sometimes anything a float can be.
NUMBERS = st.one_of(
    st.floats(min_value=-3, max_value=3),
    st.floats(min_value=-3, max_value=3),
    st.integers(min_value=-3, max_value=200),
    SPECIAL,
    st.floats(),
)
JUNK = st.one_of(NUMBERS, st.lists(NUMBERS, max_size=5), st.booleans(), st.none(), WORDS, st.dictionaries(WORDS, WORDS))


def _rarely(n: int) -> st.SearchStrategy[bool]:
    """True once in ``n`` draws (the last choice: Hypothesis leans towards the first)."""
    return st.sampled_from([False] * (n - 1) + [True])


def _mostly(main: st.SearchStrategy[Any], junk: st.SearchStrategy[Any], tenths: int = 8) -> st.SearchStrategy[Any]:
    """``main`` in ``tenths`` of ten draws, else ``junk`` (``one_of`` would weigh their branches alike)."""
    return st.sampled_from(range(10)).flatmap(lambda i: main if i < tenths else junk)


def _numbers(size: int) -> st.SearchStrategy[Any]:
    """A number, or a vector of ``size`` numbers (0: either length)."""
    return NUMBERS if size == 1 else st.lists(NUMBERS, min_size=max(size, 1), max_size=max(size, 4))


@st.composite
def _param(draw: st.DrawFn) -> dict[str, Any]:
    """A randomized parameter: mostly well formed (the arguments its type takes, numbers of one length), at
    times with junk arguments, a wrong type or a bad op."""
    kind = draw(st.sampled_from(PARAM_TYPES))
    size = draw(st.sampled_from([1, 1, 1, 2, 3, 4, 0]))
    number = _numbers(size)
    arguments = {
        "uniform": ("low", "high"),
        "log_uniform": ("low", "high"),
        "normal": ("mean", "std"),
        "truncated_normal": ("mean", "std", "low", "high"),
        "truncated_log_normal": ("median", "log_std", "low", "high"),
        "constant": ("value",),
    }
    param: dict[str, Any] = {"type": kind}
    if kind == "choice":
        param["values"] = draw(st.lists(number, min_size=1, max_size=3))
        if draw(st.booleans()):
            param["weights"] = draw(st.lists(NUMBERS, min_size=len(param["values"]), max_size=len(param["values"])))
    else:
        param.update({key: draw(number) for key in arguments[kind]})
    param["op"] = draw(st.sampled_from(["set", "set", "scale", "add"]))
    if draw(_rarely(10)):
        param["scope"], param["every"] = "every_n", draw(st.integers(-1, 5))
    if draw(_rarely(6)):  # junk: a key replaced, or added
        key = draw(
            st.sampled_from(
                ["type", "op", "low", "high", "mean", "std", "median", "log_std", "value", "values", "weights", "x"]
            )
        )
        param[key] = draw(st.one_of(JUNK, st.sampled_from([*PARAM_TYPES, "poisson", "mul"])))
    return param


def _default(info: Any) -> Any:
    if info.default_factory is not None:
        return info.default_factory()
    return None if info.is_required() else info.default


def _value(annotation: Any, info: Any, depth: int) -> st.SearchStrategy[Any]:
    if "UniformParam" in str(annotation):
        return _mostly(_param(), JUNK, 9)
    models = _classes(annotation)
    if models and depth < 3:
        inner = _model(models[0], depth + 1)
        if typing.get_origin(annotation) is list:
            return _mostly(st.lists(inner, min_size=1, max_size=2), JUNK, 9)
        if typing.get_origin(annotation) is dict:
            return _mostly(st.dictionaries(WORDS, inner, max_size=2), JUNK, 9)
        return _mostly(inner, JUNK, 9)
    if info.annotation is bool:
        return st.booleans()
    default = _default(info)
    return _mostly(st.just(default), JUNK, 5) if default is not None else JUNK


def _model(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping of a few of ``model``'s keys (``folders`` left out: never scan the disk), at times with an
    unknown key."""
    fields = {name: info for name, info in model.model_fields.items() if name != "folders"}

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        names = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=min(3, len(fields))))
        mapping = {name: draw(_value(fields[name].annotation, fields[name], depth)) for name in names}
        if draw(_rarely(20)):
            mapping[draw(WORDS)] = draw(JUNK)
        return mapping

    return build()


CONFIGS = _mostly(_model(DRConfig), JUNK, 9)


def _params(node: Any, path: str = "") -> Iterator[tuple[str, _ParamBase]]:
    """Every randomized parameter in a loaded config, with its key path."""
    if isinstance(node, _ParamBase):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _params(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _params(item, f"{path}[{i}]")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=CONFIGS)
def test_fuzzed_configs_load_or_raise_config_error(data: Any) -> None:
    message = ""
    try:
        config = load_config(data)
    except ConfigError as error:
        message = str(error)
    assert "\n" not in message
    if message:
        return
    if not isinstance(data, dict):  # a preset name or None
        return
    rng = np.random.default_rng(0)
    for path, param in _params(config):
        domain = param.domain
        for _ in range(5):
            draw = param.distribution.sample_array(rng)
            assert np.all(np.isfinite(draw)), path
            if domain is None or not domain.bounded or (param.op != "set" and domain.nominal is None):
                continue  # an op on a scene's nominal: checked at bind time
            nominal = np.asarray(0.0 if domain.nominal is None else domain.nominal)
            value = param.combine(nominal, draw)
            assert domain.contains(value), f"{path}: {value} outside: {domain.rule()}"
    if config.distractors is not None and config.distractors.count is not None:
        count = config.distractors.count
        assert all(
            0 <= count.combine(np.asarray(0.0), count.distribution.sample_array(rng)) <= config.distractors.max_count
            for _ in range(5)
        )


# ---- the supports the checks read -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("distribution", "low", "high"),
    [
        (Uniform(-2.0, [-1.0, 3.0]), [-2.0, -2.0], [-1.0, 3.0]),
        (LogUniform(0.25, 4.0), 0.25, 4.0),
        (Normal([0.0, 1.0], [1.0, 0.0]), [-INF, 1.0], [INF, 1.0]),  # std 0: every draw is the mean
        (TruncatedNormal(0.0, 1.0, -0.5, 2.0), -0.5, 2.0),
        (Choice(([0.0, 5.0], [1.0, -5.0])), [0.0, -5.0], [1.0, 5.0]),
        (Constant(0.5), 0.5, 0.5),
    ],
)
def test_support_bounds_every_component(distribution: Any, low: Any, high: Any) -> None:
    support_low, support_high = distribution.support()
    np.testing.assert_array_equal(support_low, low)
    np.testing.assert_array_equal(support_high, high)
    assert support_low.shape == support_high.shape == distribution.shape
    rng = np.random.default_rng(0)
    for _ in range(200):
        draw = distribution.sample_array(rng)
        assert np.all((support_low <= draw) & (draw <= support_high))


def test_atoms_are_the_finite_values_a_draw_can_take() -> None:
    assert Choice(([0.0, 1.0], [2.0, 3.0])).atoms().tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert Constant(2.0).atoms().tolist() == [2.0]
    assert Normal([1.0, 2.0], 0.0).atoms().tolist() == [[1.0, 2.0]]
    assert Normal(1.0, 0.1).atoms() is None
    assert Uniform(0.0, 1.0).atoms() is None


@pytest.mark.parametrize(
    ("low", "high"), [(0.1, 0.3), (-1e300, 1e300), (1e-300, 2e-300), (1.0, np.nextafter(1.0, 2.0))]
)
def test_uniform_draws_stay_inside_closed_bounds(low: float, high: float) -> None:
    """A closed domain bound (restitution <= 1) holds for every draw, whatever the rounding."""
    distribution = Uniform(low, high)
    draws = np.array([distribution.sample_array(np.random.default_rng(seed)) for seed in range(500)])
    assert np.all((low <= draws) & (draws <= high))


def test_huge_choice_weights_normalise() -> None:
    """Weights whose sum overflows a float still give probabilities (they used to fail only when drawn)."""
    distribution = Choice((1.0, 2.0), (1e308, 1e308))
    draws = {distribution.sample(np.random.default_rng(seed)) for seed in range(50)}
    assert draws == {1.0, 2.0}


def test_an_empty_randomization_name_says_what_to_give() -> None:
    with pytest.raises(ConfigError, match=r"randomization is an empty string; give a preset \(none, physics"):
        load_config("")
