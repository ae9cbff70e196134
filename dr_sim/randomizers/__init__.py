"""Randomizers, one per concern: each has ``sample(rng) -> params`` and ``apply(scene, params)``."""

from dr_sim.randomizers.actuation import ActuationRandomizer
from dr_sim.randomizers.appearance import AppearanceRandomizer
from dr_sim.randomizers.base import Randomizer, Term
from dr_sim.randomizers.camera import CameraRandomizer
from dr_sim.randomizers.distractors import DistractorRandomizer
from dr_sim.randomizers.image import ImageRandomizer
from dr_sim.randomizers.lighting import LightingRandomizer
from dr_sim.randomizers.physics import PhysicsRandomizer
from dr_sim.randomizers.sensing import SensingRandomizer
from dr_sim.randomizers.textures import TexturePool

__all__ = [
    "ActuationRandomizer",
    "AppearanceRandomizer",
    "CameraRandomizer",
    "DistractorRandomizer",
    "ImageRandomizer",
    "LightingRandomizer",
    "PhysicsRandomizer",
    "Randomizer",
    "SensingRandomizer",
    "Term",
    "TexturePool",
]
