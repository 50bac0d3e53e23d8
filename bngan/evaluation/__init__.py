"""Evaluation: classifiers, metrics, oversampling baselines, GAN rows, DGC, sample quality, disentanglement
metrics (the experiments that use them are in :mod:`bngan.experiments`)."""
