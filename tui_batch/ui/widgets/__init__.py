"""Widgets of the TUI: virtual table, task list, stats panel, log pane."""
