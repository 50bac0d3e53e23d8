"""Evaluation: classifiers, metrics, baselines, experiments."""
