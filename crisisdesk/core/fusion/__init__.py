"""The fusion classifier: model, training, metrics, calibration, checkpoints."""
