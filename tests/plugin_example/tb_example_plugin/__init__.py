"""An example tui-batch plugin package (see upper.py for its one action)."""
