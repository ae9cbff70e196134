"""Unpaired adaptation toward unlabelled target images (CycleGAN with semantic consistency)."""
