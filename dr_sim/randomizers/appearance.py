"""Appearance: per-link colors, and textures from a pool tinted by a random color."""

from __future__ import annotations

from typing import Any

import numpy as np
import pybullet as p

from dr_sim.config.schema import AppearanceConfig
from dr_sim.randomizers.base import Params, Randomizer, Term, resolve
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.scene import LinkRef, Scene

NO_TEXTURE = -1


class AppearanceRandomizer(Randomizer):
    """One config entry: the links it selects get a color, or a pool texture times a tint.

    Params per link: ``color`` (RGBA), ``tint`` (RGB) and ``texture`` (pool index, or -1 for the
    link's own nominal texture). A textured link is drawn with ``rgbaColor = tint``; an untextured
    one with ``color``.
    """

    section = "appearance"

    def __init__(self, config: AppearanceConfig, index: int = 0) -> None:
        super().__init__()
        self.config = config
        self.where = f"appearance[{index}]"
        self.pool: TexturePool | None = None
        self._links: dict[str, LinkRef] = {}
        self._nominal: dict[str, tuple[np.ndarray, int]] = {}

    def bind(self, scene: Scene) -> None:
        links = resolve(scene.select_links, self.config.select, self.config.required, self.where)
        self._links = {link.name: link for link in links if scene.visual_colors(link)}
        self._nominal = {
            name: scene.nominal("visual", name, lambda link=link: _first_visual(scene, link))
            for name, link in self._links.items()
        }
        self.terms = []
        if self.config.color is not None:
            nominal = {name: rgba for name, (rgba, _) in self._nominal.items()}
            self.terms.append(Term("color", self.config.color, nominal))
        if self.config.tint is not None:
            self.terms.append(Term("tint", self.config.tint, {name: np.ones(3) for name in self._links}))
        if self.config.textures is not None:
            self.pool = TexturePool.shared(scene.client_id, self.config.textures)

    def sample(self, rng: np.random.Generator, step: int | None = None) -> Params:
        params = super().sample(rng, step)
        if step is None and self.pool is not None and self.config.textures is not None:
            probability = self.config.textures.probability
            params["texture"] = {
                name: self.pool.draw(rng) if rng.random() < probability else NO_TEXTURE for name in self._links
            }
        return params

    def apply(self, scene: Scene, params: Params) -> None:
        colors, tints, textures = params.get("color", {}), params.get("tint", {}), params.get("texture", {})
        for name in colors.keys() | tints.keys() | textures.keys():
            link = self._links[name]
            nominal_rgba, nominal_texture = self._nominal[name]
            kwargs: dict[str, Any] = {}
            texture = textures.get(name, NO_TEXTURE)
            if self.pool is not None and texture != NO_TEXTURE:
                kwargs["textureUniqueId"] = self.pool.ids[texture]
                tint = tints.get(name, [1.0, 1.0, 1.0])
                kwargs["rgbaColor"] = [*np.clip(tint, 0, 1), float(nominal_rgba[3])]
            else:
                if self.pool is not None:
                    kwargs["textureUniqueId"] = nominal_texture
                kwargs["rgbaColor"] = np.clip(colors.get(name, nominal_rgba), 0, 1).tolist()
            p.changeVisualShape(link.body, link.index, physicsClientId=scene.client_id, **kwargs)


def _first_visual(scene: Scene, link: LinkRef) -> tuple[np.ndarray, int]:
    _, rgba, texture = scene.visual_colors(link)[0]
    return rgba, texture
