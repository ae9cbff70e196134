"""Perception a real robot can use: keypoint belief maps, PnP through the calibrated camera, few-shot (issue 17)."""
