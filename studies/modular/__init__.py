"""The modular pipeline: a pose network feeds the dynamics-randomized state policy on PuckPush."""
