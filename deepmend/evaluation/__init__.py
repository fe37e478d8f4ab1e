"""Evaluation of diffusion models against ground truth: splits, per-BS metrics, reports (issue 3)."""
