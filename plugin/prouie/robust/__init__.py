"""Robust UIE (arXiv 2503.03201): perturbations, robustness report and LDA."""
