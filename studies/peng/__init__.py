"""Peng et al. 2018's dynamics-randomization study on PuckPush."""
