"""Analyses of the paper: functions from predictions, traces and texts to result objects (see ``rnnlens.analyses.result``)."""
