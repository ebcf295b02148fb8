"""The desktop app's display-free part: what app.py's window shows and runs (controller)."""
