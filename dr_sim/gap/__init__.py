"""The domain-gap meter: ``dr-sim gap A B`` measures how far apart two image sets are.

- ``dr_sim.gap.images``: load a side from an image folder, a data set folder or a generator config;
- ``dr_sim.gap.classifier``: a small CNN told to separate A from B; held-out ROC AUC and accuracy with
  bootstrap intervals (a classifier two-sample test);
- ``dr_sim.gap.features``: KID of autoencoder features trained on both sets, with a bootstrap interval;
- ``dr_sim.gap.stats``: brightness, contrast, sharpness and colour histograms of each side;
- ``dr_sim.gap.report``: ``report.md``, ``gap.json`` and the figures;
- ``dr_sim.gap.cli``: ``measure_gap`` and the ``gap`` subcommand (needs torch and matplotlib).
"""
