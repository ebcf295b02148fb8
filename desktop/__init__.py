"""The desktop app's display-free part, one module per job; nothing here loads TensorFlow or Tk.

    summaries  the sessions on disk, as the session list shows them
    commands   the forms' defaults and checks, and the script command lines they become
    jobs       a script running in a subprocess, and how it ended
    progress   a running training followed through its events.jsonl records, as status lines
    images     example grids of a data set, and fitting images into the window's boxes
"""
from pathlib import Path

# Here, not in commands or jobs, because both need it: the scripts' paths, and their working folder.
REPO = Path(__file__).resolve().parent.parent
