"""The TUI's screens: form, preview, dashboard, jobs, help."""
