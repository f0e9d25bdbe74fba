"""Texts: corpora and their splits, training batches, per-character text features."""
