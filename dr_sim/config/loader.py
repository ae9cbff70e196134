"""Load a randomization config from a preset name, a YAML path, a dict or a ``DRConfig``; find the shipped
held-out dynamics shifts.

Every failure ends in one ``ConfigError`` whose message names the key path, the bad value and what
is allowed. YAML is read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dr_sim.config.params import PARAM_TYPES
from dr_sim.config.schema import DRConfig
from dr_sim.errors import ConfigError, did_you_mean

PRESETS = ("none", "physics", "visual", "full")
# A composite preset is the union of its parts' sections (the parts share no section).
_PRESET_PARTS = {"none": (), "physics": ("physics",), "visual": ("visual",), "full": ("physics", "visual")}
#: The held-out dynamics shifts shipped with dr_sim, ``<name>.yaml`` each (package data, found beside this
#: module, never in the working folder): randomization configs that pin PuckPush's dynamics outside every
#: training range of the ``physics`` preset, to evaluate policies on.
SHIFTS_DIR = Path(__file__).resolve().parent / "shifts"
ConfigSource = str | Path | dict[str, Any] | DRConfig | None
Model = TypeVar("Model", bound=BaseModel)


def load_config(source: ConfigSource = "none") -> DRConfig:
    """Return a validated ``DRConfig``.

    Args:
        source: a preset name (``none``, ``physics``, ``visual``, ``full``), a path to a YAML file,
            a dict with the same structure, a ``DRConfig`` (returned as is), or ``None`` (``none``).
    """
    if source is None:
        return DRConfig()
    if isinstance(source, DRConfig):
        return source
    if isinstance(source, dict):
        return config_from_dict(source, origin="config")
    if isinstance(source, str) and source in PRESETS:
        return config_from_dict(preset_dict(source), origin=f"preset {source!r}")
    if isinstance(source, str) and not source.strip():
        raise ConfigError(
            f"randomization is an empty string; give a preset ({', '.join(PRESETS)}), a .yaml/.yml path, a "
            "mapping, or None for no randomization"
        )
    if isinstance(source, str | Path):
        return config_from_dict(_read_yaml_file(Path(source)), origin=str(source))
    raise ConfigError(
        f"randomization must be a preset name ({', '.join(PRESETS)}), a YAML path, a dict or a "
        f"DRConfig; got {type(source).__name__} {source!r}"
    )


def preset_dict(name: str) -> dict[str, Any]:
    """The plain mapping of a shipped preset (``full`` is ``physics`` plus ``visual``)."""
    merged: dict[str, Any] = {}
    for part in _PRESET_PARTS[name]:
        text = resources.files("dr_sim.config").joinpath("presets", f"{part}.yaml").read_text()
        merged.update(_parse_yaml(text, f"preset {part!r}"))
    return merged


def shift_names() -> list[str]:
    """The names of the shipped held-out dynamics shifts (``heavy``, ``light``, ...), sorted."""
    return sorted(path.stem for path in SHIFTS_DIR.glob("*.yaml"))


def shift_path(name: str) -> Path:
    """The YAML file of the shipped shift ``name``; one ``ConfigError`` naming the shifts when there is none."""
    path = SHIFTS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = shift_names()
        raise ConfigError(f"unknown shift {name!r}.{did_you_mean(name, known)} Shifts: {', '.join(known)}")
    return path


def config_from_dict(data: Any, origin: str = "config") -> DRConfig:
    """Validate a plain mapping (for example parsed YAML) into a ``DRConfig``."""
    return validated(DRConfig, {} if data is None else data, origin)


def validated(model: type[Model], data: Any, origin: str) -> Model:
    """``model`` validated from ``data``; one ``ConfigError`` naming ``origin`` (and the key) when bad."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, origin)) from None


def load_model(model: type[Model], source: Model | str | Path | Mapping[str, Any], what: str) -> Model:
    """``model`` from an instance (returned as it is), a YAML path or a mapping; one ``ConfigError`` naming
    the file, or ``what`` for a mapping, when bad."""
    if isinstance(source, model):
        return source
    data, origin, _ = read_source(source, what)  # type: ignore[arg-type]  # not a model: a path or a mapping
    return validated(model, data, origin)


def read_source(
    source: str | Path | Mapping[str, Any], what: str = "config", base: Path | None = None
) -> tuple[dict[str, Any], str, Path]:
    """(mapping, origin, folder) of a config given as a YAML path or a mapping: a path is read
    (``read_yaml_mapping``), names itself in errors and its relative paths start from its folder; a
    mapping is copied, is named ``what`` and its relative paths start from ``base`` (default ``.``)."""
    if isinstance(source, str | Path):
        return read_yaml_mapping(source, what), str(source), Path(source).parent
    return dict(source), what, base or Path(".")


def read_yaml_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A YAML mapping from a ``.yaml``/``.yml`` file; one ``ConfigError`` naming ``what`` when the file is
    missing, has another suffix, is not YAML, or does not hold a mapping."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(f"{what} {str(path)!r} must be a .yaml or .yml file")
    if not path.is_file():
        raise ConfigError(f"{what} file {str(path)!r} does not exist")
    data = _parse_yaml(path.read_text(), f"{what} {str(path)!r}")
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(path)!r} must hold a mapping of keys, got {type(data).__name__}")
    return data


def _read_yaml_file(path: Path) -> Any:
    if path.suffix.lower() not in (".yaml", ".yml"):
        hint = did_you_mean(str(path), PRESETS)
        raise ConfigError(
            f"randomization {str(path)!r} is neither a preset ({', '.join(PRESETS)}) nor a .yaml/.yml file.{hint}"
        )
    if not path.is_file():
        raise ConfigError(f"randomization config file {str(path)!r} does not exist")
    return _parse_yaml(path.read_text(), str(path))


def _parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{origin}: invalid YAML{where}: {problem}") from None


def format_validation_error(error: ValidationError, origin: str) -> str:
    """Turn the first pydantic error into one line: ``origin: key.path: problem (got value)``."""
    first = error.errors(include_url=False)[0]
    path = _key_path(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    kind = first["type"]
    if kind == "union_tag_invalid":
        tag = str(first.get("ctx", {}).get("tag", ""))
        message = (
            f"unknown distribution type {tag!r}.{did_you_mean(tag, PARAM_TYPES)} Allowed: {', '.join(PARAM_TYPES)}"
        )
    elif kind == "union_tag_not_found":
        message = f"a randomized parameter needs a 'type' ({', '.join(PARAM_TYPES)})"
    elif kind == "literal_error":
        value = first.get("input")
        expected = first.get("ctx", {}).get("expected", "")
        allowed = [part.strip(" '") for part in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        message = f"{_show(value)} is not allowed.{hint} Allowed: {expected}"
    elif "input" in first and kind not in ("value_error", "missing"):
        message = f"{message} (got {_show(first['input'])})"
    where = f"{path}: " if path else ""
    return f"{origin}: {where}{message}"


def _show(value: Any) -> str:
    """``repr`` of a bad value; ``repr`` itself fails for an int of thousands of digits."""
    try:
        return repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to print>"


def _key_path(loc: tuple[Any, ...]) -> str:
    """Render a pydantic location as ``physics.links[0].mass``, dropping union-tag labels."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in PARAM_TYPES:
            continue
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts)
