"""Learning from feedback: the MeZO step, parameter sets, the objective, checkpoints, the online tuner."""
