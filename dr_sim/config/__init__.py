"""Randomization config: schema, loader and shipped presets."""

from dr_sim.config.loader import PRESETS, ConfigSource, config_from_dict, load_config, preset_dict
from dr_sim.config.schema import DRConfig

__all__ = ["PRESETS", "ConfigSource", "DRConfig", "config_from_dict", "load_config", "preset_dict"]
