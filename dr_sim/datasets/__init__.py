"""Synthetic perception data: ``dr-sim generate`` renders randomized scenes with exact labels.

- ``dr_sim.datasets.config``: the generator config (env, randomization, image size, seed, objects);
- ``dr_sim.datasets.generate``: rendering, shards in parallel, resume, the ``generate`` subcommand;
- ``dr_sim.datasets.shards``: the on-disk format (``dataset.json``, ``shards/*.npz``, ``manifest.jsonl``);
- ``dr_sim.datasets.coco``: the COCO export (RLE masks, box-corner keypoints, 16-bit depth PNGs);
- ``dr_sim.datasets.torch_dataset``: ``ShardDataset`` for PyTorch (needs torch);
- ``dr_sim.datasets.augment``: augmentations that move pixels and labels together.
"""

from dr_sim.datasets.config import GeneratorConfig, load_generator_config

__all__ = ["GeneratorConfig", "load_generator_config"]
