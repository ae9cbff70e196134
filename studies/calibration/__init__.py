"""Calibrated dynamics ranges from a few target trajectories on PuckPush."""
