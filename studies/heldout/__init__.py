"""The held-out look shared by the perception-family studies: its generator, randomization and photo textures."""
