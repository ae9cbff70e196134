"""Paired renders: every image of a generator config rendered twice, randomized and in the canonical look.

``generate_pairs(CONFIG, DIR, N)`` writes two data sets of the ``dr_sim.datasets.shards`` format that
share their indices, labels and geometry:

- ``DIR/randomized``: exactly what ``dr-sim generate CONFIG -n N`` writes (image ``i`` is the reset
  with ``seed_for(seed, i)``, rendered with the config's randomization);
- ``DIR/canonical``: the same states in the canonical look; its ``dataset.json`` says ``"look":
  "canonical"`` (the randomized one ``"randomized"``).

What the canonical look keeps and what it resets:

- kept (geometry): the object poses the task placed, the camera pose and intrinsics that the camera
  randomization drew, the distractors shown (same bodies, positions and yaws), and everything the
  physics randomization set; so the depth and the segmentation of both renders are the same;
- reset (look): every randomized link back to its nominal colour and nominal texture (the look of the
  scene without a config), each shown distractor to the plain grey of a distractor with no colour
  drawn, untextured; the light back to TinyRenderer's defaults (no light arguments, as in a scene that
  randomizes no lighting); no image corruption (noise, blur, colour jitter).

The canonical render changes the appearance of the scene and then restores the randomized one, so the
randomized images are bit-identical to those of ``dr-sim generate``. Both sets are written shard by
shard, both looks of a shard before the next; rerunning the same call resumes where a killed one stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.datasets.config import ConfigInput, GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.pool import DatasetLock
from dr_sim.datasets.shards import (
    Shard,
    ShardIndex,
    depth_to_mm,
    encode_shard,
    make_meta,
    prepare_root,
    remove_stale_temporaries,
    shard_count,
    shard_range,
    write_manifest,
)
from dr_sim.datasets.source import ImageSource
from dr_sim.errors import ConfigError
from dr_sim.progress import Progress
from dr_sim.randomizers.appearance import NO_TEXTURE
from dr_sim.scene.camera import Frame

LOOKS = ("randomized", "canonical")
#: TinyRenderer's own light (its values when a client never set one). A client keeps the light arguments
#: of its last ``getCameraImage`` call that gave them, so the canonical render passes every one explicitly.
CANONICAL_LIGHT: dict[str, Any] = {
    "lightDirection": (np.array([-50.0, 30.0, 100.0]) / np.linalg.norm([-50.0, 30.0, 100.0])).tolist(),
    "lightColor": [1.0, 1.0, 1.0],
    "lightDistance": 2.0,
    "lightAmbientCoeff": 0.6,
    "lightDiffuseCoeff": 0.35,
    "lightSpecularCoeff": 0.05,
    "shadow": 0,
}
#: Distractor parameters that set a look (the rest, position, yaw and collisions, is geometry).
DISTRACTOR_LOOK = ("color", "texture")


def pair_roots(root: str | Path) -> dict[str, Path]:
    """``{"randomized": DIR/randomized, "canonical": DIR/canonical}``."""
    return {look: Path(root) / look for look in LOOKS}


def canonical_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that turn a randomized episode's look canonical (see the module docstring):
    each appearance entry's links back to their nominal texture and colour, each shown distractor
    without its drawn colour and texture. Pure: ``params`` is not changed."""
    canonical: dict[str, Any] = {}
    for key, section in params.items():
        if key.startswith("appearance."):
            links = sorted(set().union(*(terms.keys() for terms in section.values())))
            canonical[key] = {"texture": dict.fromkeys(links, NO_TEXTURE)}
        elif key == "distractors" and "items" in section:
            items = [{k: v for k, v in item.items() if k not in DISTRACTOR_LOOK} for item in section["items"]]
            canonical[key] = {"items": items}
    return canonical


class PairedSource(ImageSource):
    """An ``ImageSource`` that also renders each image's canonical look (``render_pair``)."""

    def canonical_frame(self, params: dict[str, Any]) -> Frame:
        """The current state rendered in the canonical look (RGB, metric depth, segmentation), where
        ``params`` are the parameters of the episode the scene is in; the randomized look is restored."""
        engine, scene = self.session.engine, self.session.scene
        canonical = canonical_params(params)
        # Re-applying the distractors moves them to their drawn spots; a structured scene's recorded
        # (settled) poses are laid over them again, so the geometry stays the randomized render's.
        geometry = {"structure": params["structure"]} if "structure" in params else {}
        engine.apply(scene, {**canonical, **geometry})
        try:
            return self.session.camera.render(CANONICAL_LIGHT, depth=True, segmentation=True)
        finally:
            engine.apply(scene, {**{key: params[key] for key in canonical}, **geometry})

    def render_pair(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
        """Image ``index``: its randomized arrays, its canonical arrays and its labels.

        The canonical arrays hold the canonical ``rgb`` and ``depth_mm``; the ``instance`` and
        ``semantic`` maps are the randomized image's (the geometry is the same).
        """
        randomized, labels = self.render(index)
        frame = self.canonical_frame(labels["randomization"])
        assert frame.depth is not None
        canonical = {
            "rgb": frame.rgb,
            "depth_mm": depth_to_mm(frame.depth),
            "instance": randomized["instance"],
            "semantic": randomized["semantic"],
        }
        return randomized, canonical, labels

    def shard_pair(self, shard: int, count: int, progress: Progress) -> dict[str, Shard]:
        """Both looks of the images of ``shard`` (of ``count`` images), by look."""
        indices = shard_range(shard, self.config.shard_size, count)
        rendered = []
        for index in indices:
            rendered.append(self.render_pair(index))
            progress.advance()
        labels = [entry[2] for entry in rendered]
        shards = {}
        for k, look in enumerate(LOOKS):
            arrays = {key: np.stack([entry[k][key] for entry in rendered]) for key in rendered[0][k]}
            shards[look] = Shard(index=np.array(indices, dtype=np.int64), **arrays, labels=labels)
        return shards


def generate_pairs(config: ConfigInput, out: str | Path, count: int, *, progress: bool = True) -> dict[str, Any]:
    """Render (or resume) ``count`` paired images of a generator config into ``out`` (module docstring).

    Args:
        config: a generator config (YAML path, dict or ``GeneratorConfig``).
        out: the pair folder (new, empty, or a previous call with the same config and count).
        count: number of images N in each look.
        progress: draw a progress bar on stderr.

    Returns:
        ``{"root", "images", "rendered"}`` (shards rendered by this call) and ``roots`` (look -> folder).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ConfigError(f"the number of paired images must be a positive integer, got {count!r}")
    resolved = resolved_dict(load_generator_config(config))
    settings = GeneratorConfig.model_validate(resolved)
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"paired data folder {str(root)!r} is a file; give a folder (new, or an earlier pair folder)")
    roots = pair_roots(root)
    metas = {look: {**make_meta(resolved, count), "look": look} for look in LOOKS}
    total = shard_count(count, settings.shard_size)
    source = PairedSource(settings)  # builds the env first: every config error shows before any file
    try:
        root.mkdir(parents=True, exist_ok=True)
        with DatasetLock(root):
            for look in LOOKS:
                prepare_root(roots[look], metas[look])
                remove_stale_temporaries(roots[look])
            indexes = {look: ShardIndex(roots[look]) for look in LOOKS}  # a shard failing its checksum is redone
            done = set.intersection(*(indexes[look].verify(metas[look])[0] for look in LOOKS))
            pending = [shard for shard in range(total) if shard not in done]
            finished = sum(len(shard_range(shard, settings.shard_size, count)) for shard in done)
            bar = Progress(count, "generate pairs", "images", done=finished, enabled=progress)
            for shard in pending:
                for look, data in source.shard_pair(shard, count, bar).items():
                    indexes[look].write_shard(shard, encode_shard(data, compress=settings.compress))
            bar.update(count, final=True)
            for look in LOOKS:
                indexes[look].compact(metas[look])
                write_manifest(roots[look], metas[look])
    finally:
        source.close()
    return {
        "root": str(root),
        "images": count,
        "rendered": len(pending),
        "roots": {k: str(v) for k, v in roots.items()},
    }
