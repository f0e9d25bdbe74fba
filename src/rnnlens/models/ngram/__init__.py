"""Interpolated modified Kneser-Ney n-gram models and ARPA files."""
