"""The generator config: which env, which randomization, what to label, and how images are numbered.

A YAML file (or a dict) with these keys, all optional::

    env: dr_sim/Localize-v0      # a registered Gymnasium id (dr_sim tasks or any PyBullet env)
    env_kwargs: {}               # constructor arguments of the env
    randomization: visual        # anything dr_sim.load_config accepts; a relative YAML path is
                                 # resolved against the folder of this config file
    image_size: 64               # px, width and height (at most 4096)
    render_detail: low           # low: arms drawn from their collision meshes (same physics); full: visual
    seed: 0                      # image i is rendered from seed_for(seed, i)
    shard_size: 256              # images per shard file
    objects: [object]            # bodies to label first (category 1, "target")
    visibility: target           # unoccluded render for: target (the objects), all (and distractors), none
    compress: false              # deflate shard files: about 8x smaller, about 1 ms more per image

Unknown keys and bad values end in one ``ConfigError`` naming the key, the value and what is allowed.
``resolved_dict`` turns a config into the plain dict stored in ``dataset.json``: the randomization is
expanded into its full validated mapping, so a data set never depends on a file that may change later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from dr_sim.arguments import MAX_IMAGE_SIZE
from dr_sim.config import load_config
from dr_sim.config.loader import PRESETS, format_validation_error
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

DEFAULT_ENV = "dr_sim/Localize-v0"
#: Keys of ``env_kwargs`` the generator sets itself.
RESERVED_ENV_KWARGS = ("randomization", "obs_type", "image_size", "render_mode", "render_detail")
MAX_INSTANCES = 255  # instance ids are uint8, 0 is the background


class GeneratorConfig(StrictModel):
    """What ``dr-sim generate`` renders (see the module docstring for each key and its unit)."""

    env: str = DEFAULT_ENV
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    randomization: str | dict[str, Any] = "visual"
    image_size: int = Field(default=64, gt=0, le=MAX_IMAGE_SIZE)
    render_detail: Literal["low", "full"] = "low"
    seed: int = Field(default=0, ge=0)
    shard_size: int = Field(default=256, gt=0)
    objects: list[str] = Field(default_factory=lambda: ["object"], min_length=1, max_length=MAX_INSTANCES)
    visibility: Literal["target", "all", "none"] = "target"
    compress: bool = False

    @field_validator("env_kwargs")
    @classmethod
    def _no_reserved_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = [key for key in value if key in RESERVED_ENV_KWARGS]
        if taken:
            raise ValueError(
                f"{', '.join(map(repr, taken))} is set by the generator (use the top-level keys "
                f"'randomization', 'image_size' and 'render_detail'); remove it from env_kwargs"
            )
        return value

    @field_validator("objects")
    @classmethod
    def _unique_names(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"each object is labelled once; repeated: {', '.join(map(repr, repeated))}")
        return value


ConfigInput = str | Path | dict[str, Any] | GeneratorConfig | None


def load_generator_config(source: ConfigInput) -> GeneratorConfig:
    """A validated ``GeneratorConfig`` from a YAML path, a dict, a config (returned as is) or ``None``.

    A relative ``randomization`` YAML path in a file is resolved against the file's folder (in a dict,
    against the working directory). The randomization itself is loaded too, so every error shows here.
    """
    if isinstance(source, GeneratorConfig):
        return source
    folder = Path.cwd()
    origin = "generator config"
    if source is None:
        data: Any = {}
    elif isinstance(source, dict):
        data = source
    elif isinstance(source, str | Path):
        path = Path(source)
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise ConfigError(f"generator config {str(path)!r} must be a .yaml or .yml file")
        if not path.is_file():
            raise ConfigError(f"generator config file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: invalid YAML: {getattr(error, 'problem', None) or error}") from None
        folder, origin = path.parent, str(path)
    else:
        raise ConfigError(f"generator config must be a YAML path or a dict, got {type(source).__name__}")
    try:
        config = GeneratorConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, origin)) from None
    randomization = config.randomization
    if isinstance(randomization, str) and randomization not in PRESETS:
        path = Path(randomization)
        config = config.model_copy(update={"randomization": str(path if path.is_absolute() else folder / path)})
    _load_randomization(config, origin)
    return config


def _load_randomization(config: GeneratorConfig, origin: str) -> dict[str, Any]:
    try:
        loaded = load_config(config.randomization)
    except ConfigError as error:
        raise ConfigError(f"{origin}: randomization: {error}") from None
    return loaded.model_dump(mode="json", exclude_none=True)


def resolved_dict(config: GeneratorConfig) -> dict[str, Any]:
    """The config as stored in ``dataset.json``: plain JSON types, the randomization fully expanded."""
    data = config.model_dump(mode="json")
    data["randomization"] = _load_randomization(config, "generator config")
    return data
