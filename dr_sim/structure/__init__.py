"""Structured domain randomization (Prakash et al. 2019): scenes built by their context, one job per module.

- ``boxes``: upright boxes (a yaw about z) that stand for placed objects: overlap and line-of-sight tests;
- ``surfaces``: horizontal support surfaces (a body's top found by rays, a plane, a placed object's top);
- ``mount``: camera poses on a spherical cap aimed at the workspace, light directions from the upper
  hemisphere;
- ``visibility``: what a camera would see of a box without rendering: in the image, and the visible
  fraction of its silhouette behind other boxes;
- ``placement``: bounded rejection sampling of the target and the distractors under the rules, with one
  error naming the rule that cannot be met;
- ``settle``: stepping the placed scene to rest and recording its state, so that a replay is exact.

``dr_sim.randomizers.structure`` binds these to a scene under the config's ``structure`` section.
"""
