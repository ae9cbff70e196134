"""Calibrate dynamics ranges to a target system's trajectories (``dr-sim calibrate``): the parameters and
their priors (``parameters``), replays (``simulator``, ``evaluator``), the discrepancy and DROPO's likelihood
(``discrepancy``), the estimators (``estimators``), the outputs (``report``) and the command (``calibrate``)."""
