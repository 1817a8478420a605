"""The pieces of :func:`gans.trainer.fit` (the loop itself is in :mod:`gans.trainer`, which
re-exports them): ``state`` (TrainState), ``run_folder`` (RunFolder and its files), ``step_log``
(StepLog, TrainingDiverged) and ``signals`` (clean stops)."""
