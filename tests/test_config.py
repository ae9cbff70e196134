"""Tests of loading and validating randomization configs (``dr_sim.config``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dr_sim.config import PRESETS, DRConfig, config_from_dict, load_config, preset_dict
from dr_sim.config.params import PARAM_TYPES
from dr_sim.errors import ConfigError
from dr_sim.sampling import Choice, Constant, LogUniform, TruncatedNormal

PHYSICS_SECTIONS = ("physics", "actuation", "sensing")
VISUAL_SECTIONS = ("camera", "lighting", "distractors", "image")


def uniform(low: Any = 0.0, high: Any = 1.0, **extra: Any) -> dict[str, Any]:
    return {"type": "uniform", "low": low, "high": high, **extra}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---- valid configs ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads(name: str) -> None:
    config = load_config(name)
    assert isinstance(config, DRConfig)
    has_physics = name in ("physics", "full")
    has_visual = name in ("visual", "full")
    for section in PHYSICS_SECTIONS:
        assert (getattr(config, section) is not None) == has_physics, section
    for section in VISUAL_SECTIONS:
        assert (getattr(config, section) is not None) == has_visual, section
    assert bool(config.appearance) == has_visual


def test_none_preset_is_empty_config() -> None:
    assert load_config("none") == DRConfig()
    assert load_config(None) == DRConfig()
    assert load_config() == DRConfig()


def test_full_preset_is_physics_plus_visual() -> None:
    full, physics, visual = load_config("full"), load_config("physics"), load_config("visual")
    for section in PHYSICS_SECTIONS:
        assert getattr(full, section) == getattr(physics, section)
    for section in (*VISUAL_SECTIONS, "appearance"):
        assert getattr(full, section) == getattr(visual, section)
    assert preset_dict("full") == {**preset_dict("physics"), **preset_dict("visual")}


def test_physics_preset_holds_published_ranges() -> None:
    """Peng et al. 2018: link mass scaled log-uniformly in [0.25, 4]."""
    config = load_config("physics")
    assert config.physics is not None
    mass = config.physics.links[0].mass
    assert mass is not None
    assert mass.op == "scale"
    assert mass.distribution == LogUniform(0.25, 4.0)
    draws = [mass.distribution.sample(np.random.default_rng(s)) for s in range(200)]
    assert all(0.25 <= x <= 4.0 for x in draws)


def test_load_from_dict() -> None:
    data = {
        "physics": {
            "gravity": {"type": "normal", "mean": [0, 0, -9.81], "std": [0, 0, 0.1], "op": "set"},
            "links": [{"select": ["panda/*", "object/*"], "mass": {"type": "log_uniform", "low": 0.5, "high": 2}}],
            "joints": [{"select": "panda/*finger*", "damping": {"type": "constant", "value": 0.3, "op": "scale"}}],
        },
        "sensing": {"noise_std": {"type": "choice", "values": [0.0, 0.01], "weights": [1, 3], "scope": "step"}},
        "actuation": {"latency_steps": uniform(0, 3, scope="every_n", every=5, shared=True)},
    }
    config = load_config(data)
    assert config.physics is not None
    assert config.physics.gravity is not None
    assert config.physics.gravity.distribution.shape == (3,)
    assert config.physics.links[0].select == ["panda/*", "object/*"]
    assert config.physics.joints[0].damping is not None
    assert config.physics.joints[0].damping.distribution == Constant(0.3)
    assert config.sensing is not None
    assert config.sensing.noise_std is not None
    assert config.sensing.noise_std.distribution == Choice((0.0, 0.01), (1.0, 3.0))
    assert config.actuation is not None
    assert config.actuation.latency_steps is not None
    latency = config.actuation.latency_steps
    assert latency.shared
    assert [step for step in range(1, 16) if latency.due(step)] == [5, 10, 15]
    # Loading the same dict twice gives equal configs; the dict is not modified.
    assert load_config(data) == config
    assert data["actuation"]["latency_steps"]["low"] == 0


def test_load_from_yaml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dr.yaml",
        """
camera:
  fov: {type: truncated_normal, mean: 1.0, std: 0.05, low: 0.9, high: 1.1, op: scale}
  nominal: {eye: [1.0, 0.0, 1.0], near: 0.05, far: 3.0}
lighting:
  shadow_probability: 0.5
""",
    )
    for source in (path, str(path)):
        config = load_config(source)
        assert config.camera is not None
        assert config.camera.fov is not None
        assert config.camera.fov.distribution == TruncatedNormal(1.0, 0.05, 0.9, 1.1)
        assert config.camera.nominal is not None
        assert config.camera.nominal.far == 3.0
        assert config.lighting is not None
        assert config.lighting.shadow_probability == 0.5
    assert load_config(path) == load_config(yaml.safe_load(path.read_text()))


def test_yml_suffix_and_empty_file_load(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "empty.yml", "")) == DRConfig()


def test_preset_written_to_yaml_loads_the_same(tmp_path: Path) -> None:
    path = write(tmp_path / "full.yaml", yaml.safe_dump(preset_dict("full")))
    assert load_config(path) == load_config("full")


def test_drconfig_object_is_returned_as_is() -> None:
    config = load_config("visual")
    assert load_config(config) is config


def test_image_folder_with_an_image_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "wood.PNG").write_bytes(b"not checked here")
    config = load_config({"appearance": [{"textures": {"folders": [str(tmp_path)], "pool_size": 0}}]})
    assert config.appearance[0].textures is not None
    assert config.appearance[0].textures.folders == [str(tmp_path)]


# ---- malformed configs --------------------------------------------------------------------------

Builder = Callable[[Path], Any]


def image_folder(tmp_path: Path, *names: str) -> str:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in names:
        (folder / name).write_text("x")
    return str(folder)


MALFORMED: list[tuple[str, Any, tuple[str, ...]]] = [
    # wrong types
    ("string_for_number", {"physics": {"gravity": uniform("heavy", 1.0)}}, ("physics.gravity.low", "'heavy'")),
    ("bool_for_number", {"sensing": {"bias": uniform(True, 1.0)}}, ("sensing.bias.low", "True")),
    ("empty_list_for_number", {"sensing": {"bias": uniform([], 1.0)}}, ("sensing.bias.low", "non-empty list")),
    ("list_for_mapping", {"physics": [1, 2]}, ("physics", "expected a mapping", "[1, 2]")),
    ("string_for_mapping", {"camera": "wide"}, ("camera", "expected a mapping", "'wide'")),
    ("mapping_for_list", {"physics": {"links": {"select": "*"}}}, ("physics.links", "valid list")),
    ("top_level_list", [1, 2, 3], ("expected a mapping", "[1, 2, 3]")),
    ("string_for_bool", {"sensing": {"bias": uniform(shared="yes")}}, ("sensing.bias.shared", "'yes'")),
    ("string_for_int", {"distractors": {"max_count": "10"}}, ("distractors.max_count", "'10'")),
    ("huge_int", {"sensing": {"bias": uniform(10**400, 1.0)}}, ("sensing.bias.low", "must be a number")),
    ("string_for_key_list", {"sensing": {"keys": "observation"}}, ("sensing.keys", "'observation'")),
    # distribution parameters
    (
        "low_above_high",
        {"physics": {"links": [{"mass": uniform(2.0, 1.0)}]}},
        ("physics.links[0].mass", "low must be <= high", "2.0"),
    ),
    (
        "log_uniform_zero",
        {"physics": {"joints": [{"damping": {"type": "log_uniform", "low": 0, "high": 2}}]}},
        ("physics.joints[0].damping", "must be > 0", "low=0.0"),
    ),
    (
        "log_uniform_negative",
        {"actuation": {"gain_scale": {"type": "log_uniform", "low": -0.5, "high": 2}}},
        ("actuation.gain_scale", "must be > 0", "-0.5"),
    ),
    (
        "negative_std",
        {"sensing": {"noise_std": {"type": "normal", "mean": 0, "std": -1}}},
        ("sensing.noise_std", "std"),
    ),
    (
        "vector_length_mismatch",
        {"lighting": {"direction": uniform([0, 0, 0], [1, 1])}},
        ("lighting.direction", "differ in length"),
    ),
    ("nan_bound", {"image": {"hue": uniform(float("nan"), 1.0)}}, ("image.hue", "finite")),
    ("empty_choice", {"image": {"gamma": {"type": "choice", "values": []}}}, ("image.gamma.values", "at least 1")),
    (
        "choice_weights_mismatch",
        {"image": {"gamma": {"type": "choice", "values": [1, 2], "weights": [1]}}},
        ("image.gamma", "one entry per value"),
    ),
    (
        "choice_zero_weights",
        {"image": {"gamma": {"type": "choice", "values": [1, 2], "weights": [0, 0]}}},
        ("image.gamma", "positive sum"),
    ),
    (
        "choice_negative_weight",
        {"image": {"gamma": {"type": "choice", "values": [1, 2], "weights": [-1, 2]}}},
        ("image.gamma", "weights must be >= 0"),
    ),
    # unknown keys and values, with suggestions
    (
        "unknown_link_term",
        {"physics": {"links": [{"mas": uniform()}]}},
        ("physics.links[0]", "'mas'", "Did you mean 'mass'?"),
    ),
    ("unknown_section", {"physiks": {}}, ("'physiks'", "Did you mean 'physics'?", "Allowed keys")),
    (
        "unknown_param_key",
        {"camera": {"roll": uniform(hihg=2.0)}},
        ("camera.roll", "'hihg'", "Did you mean 'high'?"),
    ),
    (
        "misspelt_distribution",
        {"physics": {"gravity": {"type": "unifrom", "low": 0, "high": 1}}},
        ("physics.gravity", "'unifrom'", "Did you mean 'uniform'?", "log_uniform"),
    ),
    (
        "unknown_distribution",
        {"physics": {"gravity": {"type": "poisson", "low": 0, "high": 1}}},
        ("physics.gravity", "'poisson'", "Allowed: uniform, log_uniform"),
    ),
    ("missing_type", {"physics": {"gravity": {"low": 0, "high": 1}}}, ("physics.gravity", "needs a 'type'")),
    ("bad_op", {"sensing": {"bias": uniform(op="scal")}}, ("sensing.bias.op", "'scal'", "Did you mean 'scale'?")),
    ("unknown_op", {"sensing": {"bias": uniform(op="multiply")}}, ("sensing.bias.op", "'multiply'", "'set'")),
    (
        "bad_scope",
        {"sensing": {"bias": uniform(scope="epsiode")}},
        ("sensing.bias.scope", "Did you mean 'episode'?", "'every_n'"),
    ),
    (
        "every_n_without_every",
        {"sensing": {"bias": uniform(scope="every_n")}},
        ("sensing.bias", "scope 'every_n' needs 'every"),
    ),
    (
        "every_without_every_n",
        {"sensing": {"bias": uniform(every=5)}},
        ("sensing.bias", "'every' only applies", "'episode'"),
    ),
    ("every_zero", {"sensing": {"bias": uniform(scope="every_n", every=0)}}, ("sensing.bias.every", "greater than 0")),
    (
        "bad_texture_family",
        {"appearance": [{"textures": {"families": ["flat", "plaid"]}}]},
        ("appearance[0].textures.families[1]", "'plaid'", "'checker'"),
    ),
    ("bad_kind", {"distractors": {"kinds": ["sphere"]}}, ("distractors.kinds[0]", "'sphere'", "'primitive'")),
    # selectors
    ("empty_selector", {"physics": {"links": [{"select": ""}]}}, ("physics.links[0].select", "non-empty glob", "''")),
    ("blank_selector", {"appearance": [{"select": "  "}]}, ("appearance[0].select", "non-empty glob")),
    ("empty_selector_list", {"physics": {"joints": [{"select": []}]}}, ("physics.joints[0].select", "non-empty glob")),
    # textures
    (
        "missing_image_folder",
        lambda tmp: {"appearance": [{"textures": {"folders": [str(tmp / "nope")]}}]},
        ("appearance[0].textures.folders", "does not exist", "nope"),
    ),
    (
        "missing_home_of_unknown_user",
        {"appearance": [{"textures": {"folders": ["~no_such_user_dr_sim/textures"]}}]},
        ("appearance[0].textures.folders", "does not exist"),
    ),
    (
        "folder_without_images",
        lambda tmp: {"distractors": {"textures": {"folders": [image_folder(tmp, "notes.txt", "mesh.obj")]}}},
        ("distractors.textures.folders", "holds no image", ".png"),
    ),
    ("empty_texture_pool", {"appearance": [{"textures": {"pool_size": 0}}]}, ("appearance[0].textures", "is empty")),
    (
        "pool_without_families",
        {"appearance": [{"textures": {"families": []}}]},
        ("appearance[0].textures", "at least one procedural family"),
    ),
    # camera
    (
        "near_equals_far",
        {"camera": {"nominal": {"near": 1.0, "far": 1.0}}},
        ("camera.nominal", "near must be < far", "near=1.0"),
    ),
    ("near_above_far", {"camera": {"nominal": {"near": 5.0, "far": 2.0}}}, ("camera.nominal", "near must be < far")),
    ("fov_too_wide", {"camera": {"nominal": {"fov": 180}}}, ("camera.nominal.fov", "less than 180")),
    ("eye_too_short", {"camera": {"nominal": {"eye": [1.0, 0.0]}}}, ("camera.nominal.eye", "at least 3")),
    # probabilities
    ("shadow_probability", {"lighting": {"shadow_probability": 1.5}}, ("lighting.shadow_probability", "1.5")),
    ("jpeg_probability", {"image": {"jpeg_probability": -0.1}}, ("image.jpeg_probability", "-0.1")),
    (
        "colliding_probability",
        {"distractors": {"colliding_probability": 2}},
        ("distractors.colliding_probability", "less than or equal to 1"),
    ),
    (
        "texture_probability",
        {"appearance": [{"textures": {"probability": 1.01}}]},
        ("appearance[0].textures.probability", "1.01"),
    ),
    # distractors
    ("mesh_ids_out_of_range", {"distractors": {"mesh_ids": [0, 1000]}}, ("distractors", "mesh_ids", "1000", "999")),
    ("mesh_ids_reversed", {"distractors": {"mesh_ids": [50, 10]}}, ("distractors", "mesh_ids", "low <= high")),
    ("mesh_ids_negative", {"distractors": {"mesh_ids": [-1, 10]}}, ("distractors", "mesh_ids", "-1")),
    ("mesh_ids_length", {"distractors": {"mesh_ids": [1, 2, 3]}}, ("distractors.mesh_ids", "at most 2")),
    ("too_many_distractors", {"distractors": {"max_count": 65}}, ("distractors.max_count", "64")),
    ("thousands_of_digits", {"distractors": {"max_count": 10**5000}}, ("distractors.max_count", "64")),
    (
        "region_reversed",
        {"distractors": {"region_low": [0.5, 0.0], "region_high": [0.1, 0.3]}},
        ("distractors", "region_low must be <= region_high"),
    ),
    ("zero_control_dt", {"actuation": {"control_dt": 0}}, ("actuation.control_dt", "greater than 0")),
]


@pytest.mark.parametrize(("name", "data", "expected"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_config_raises_one_line_config_error(
    name: str, data: Any, expected: tuple[str, ...], tmp_path: Path
) -> None:
    if callable(data):
        data = data(tmp_path)
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config: ")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_malformed_dict_through_load_config_names_origin() -> None:
    with pytest.raises(ConfigError, match=r"^config: physics\.gravity\.low: .*'heavy'"):
        load_config({"physics": {"gravity": uniform("heavy")}})


# ---- files and sources --------------------------------------------------------------------------


def test_invalid_yaml_syntax_reports_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", "physics:\n  gravity: {type: uniform, low: 0\n  links: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert "invalid YAML at line 3" in message


def test_bad_value_in_yaml_file_names_file_and_key_path(tmp_path: Path) -> None:
    path = write(tmp_path / "dr.yaml", "lighting:\n  distance: {type: uniform, low: 4, high: 1}\n")
    with pytest.raises(ConfigError, match=r"lighting\.distance: low must be <= high") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")


def test_yaml_python_tags_are_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(
        tmp_path / "evil.yaml",
        f"physics: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path [{str(marker)!r}]]\n",
    )
    with pytest.raises(ConfigError, match=r"invalid YAML.*python/object"):
        load_config(path)
    assert not marker.exists()


def test_yaml_python_object_tag_raises(tmp_path: Path) -> None:
    path = write(tmp_path / "obj.yaml", "camera: !!python/object:dr_sim.config.DRConfig {}\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_config(path)


@pytest.mark.parametrize(("source", "suggestion"), [("fulll", "full"), ("phisics", "physics"), ("visaul", "visual")])
def test_misspelt_preset_suggests_the_preset(source: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(source)
    message = str(info.value)
    assert f"Did you mean {suggestion!r}?" in message
    assert "neither a preset" in message
    assert "none, physics, visual, full" in message


def test_path_that_is_neither_preset_nor_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "config.json", "{}")
    with pytest.raises(ConfigError, match=r"neither a preset .* nor a \.yaml/\.yml file") as info:
        load_config(path)
    assert "Did you mean" not in str(info.value)


def test_missing_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_yaml_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "list.yaml", "- physics\n- visual\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(path)


@pytest.mark.parametrize("source", [42, 1.5, ["full"], b"full"])
def test_unsupported_source_type(source: Any) -> None:
    with pytest.raises(ConfigError, match="must be a preset name") as info:
        load_config(source)
    assert type(source).__name__ in str(info.value)


# ---- random junk --------------------------------------------------------------------------------

# Field names of every config model and parameter, so that junk often reaches deep validators.
VOCABULARY = sorted(
    {
        *DRConfig.model_fields,
        "links", "joints", "gravity", "mass", "inertia", "lateral_friction", "damping", "friction",
        "select", "required", "nominal", "eye", "near", "far", "fov", "textures", "folders", "families",
        "pool_size", "probability", "mesh_ids", "max_count", "count", "kinds", "region_low", "region_high",
        "keys", "bias", "noise_std", "shadow_probability", "control_dt", "latency_steps",
        "type", "low", "high", "mean", "std", "values", "weights", "value", "op", "scope", "every", "shared",
    }
)  # fmt: skip
WORDS = st.sampled_from([*VOCABULARY, *PARAM_TYPES, "set", "scale", "add", "episode", "step", "every_n", "flat", "*"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | WORDS
JUNK = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(WORDS | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=25,
)


def param_junk() -> st.SearchStrategy[dict[str, Any]]:
    """A distribution mapping with a real type and random arguments."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from(PARAM_TYPES)},
        optional={key: JUNK for key in ("low", "high", "mean", "std", "values", "weights", "value", "op", "scope")},
    )


SECTION_JUNK = st.one_of(
    st.dictionaries(WORDS, JUNK, max_size=6),
    st.builds(lambda p: {"physics": {"gravity": p}}, param_junk()),
    st.builds(lambda p: {"physics": {"links": [{"select": "*", "mass": p}]}}, param_junk()),
    st.builds(lambda p: {"camera": {"fov": p}}, param_junk()),
    st.builds(lambda n: {"camera": {"nominal": n}}, st.dictionaries(WORDS, SCALARS, max_size=4)),
    st.builds(lambda d: {"distractors": d}, st.dictionaries(WORDS, JUNK, max_size=4)),
    st.builds(lambda t: {"appearance": [{"textures": t}]}, st.dictionaries(WORDS, JUNK, max_size=4)),
    JUNK,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=SECTION_JUNK)
def test_random_junk_validates_or_raises_config_error(data: Any) -> None:
    """Whatever a user writes, the only error is a one-line ``ConfigError``."""
    message = ""
    try:
        config = config_from_dict(data)
    except ConfigError as error:
        message = str(error)
    else:
        assert isinstance(config, DRConfig)
    assert "\n" not in message


@settings(max_examples=200, deadline=None)
@given(params=param_junk())
def test_random_parameters_validate_or_raise_config_error(params: dict[str, Any]) -> None:
    message = "config: sensing"
    try:
        config = config_from_dict({"sensing": {"bias": params}})
    except ConfigError as error:
        message = str(error)
    else:
        assert config.sensing is not None
        assert config.sensing.bias is not None
        draw = config.sensing.bias.distribution.sample(np.random.default_rng(0))
        assert np.all(np.isfinite(draw))
    assert message.startswith("config: sensing")
