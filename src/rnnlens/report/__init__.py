"""The report of a reproduction: one self-contained HTML page with every table and figure of the paper."""
