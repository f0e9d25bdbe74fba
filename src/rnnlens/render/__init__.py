"""Drawing: figures shared by analyses and the cell pictures of Figure 2."""
