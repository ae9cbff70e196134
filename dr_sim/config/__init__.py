"""Randomization config: schema, loader, shipped presets and shipped held-out dynamics shifts."""

from dr_sim.config.loader import (
    PRESETS,
    SHIFTS_DIR,
    ConfigSource,
    config_from_dict,
    load_config,
    preset_dict,
    shift_names,
    shift_path,
)
from dr_sim.config.schema import DRConfig

__all__ = [
    "PRESETS",
    "SHIFTS_DIR",
    "ConfigSource",
    "DRConfig",
    "config_from_dict",
    "load_config",
    "preset_dict",
    "shift_names",
    "shift_path",
]
