"""What lives on disk: atomic writes, run directories, traces, cached predictions."""
