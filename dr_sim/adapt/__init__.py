"""Domain adaptation: translate randomized (or real) images into the canonical look a model was trained on.

- ``dr_sim.adapt.config``: the ``dr-sim adapt train`` config (method, paired data, losses, budget);
- ``dr_sim.adapt.data``: paired renders (``dr_sim.datasets.paired``) loaded into tensors;
- ``dr_sim.adapt.networks``: the U-Net generator (with segmentation and depth heads) and the PatchGAN;
- ``dr_sim.adapt.training``: the losses and the training loop of RCAN and pix2pix;
- ``dr_sim.adapt.run``: the run folder (config, weights, metrics, examples) and loading a translator;
- ``dr_sim.adapt.apply``: translating a folder of images; ``dr_sim.adapt.apply_dataset``: a data set
  of ``dr-sim generate`` (only the RGB changes);
- ``dr_sim.adapt.cycle_config``, ``unpaired_data``, ``cycle_networks``, ``segmenter``, ``cyclegan`` and
  ``cycle_run``: unpaired translation toward unlabelled target images (``method: cyclegan``: the config,
  the two sides, ResNet generators and the sim-trained segmenter, CycleGAN with CyCADA's semantic
  consistency, and its run folder with the gap meter's report);
- ``dr_sim.adapt.cli``: the ``adapt`` subcommand (needs torch).
"""
