"""A script run by the window in a subprocess, and what to make of how it ended."""
import os
import re
import subprocess
import threading
from pathlib import Path

from desktop import REPO

_FID = re.compile(r"^FID: (\S+)\s*$", re.MULTILINE)


def script_env():
    """Lines arrive as they are printed, and TensorFlow's start-up chatter stays out of them."""
    return dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")


class ScriptJob:
    """A script in a subprocess. Threads read its pipes (a full pipe would block the script) and
    put (callback, value) pairs on `events`, a queue the window's thread empties: Tk may only be
    touched from its own thread. on_line gets each stdout line, on_done the exit code."""

    def __init__(self, command, events, on_line, on_done):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        bufsize=1, cwd=REPO, env=script_env())
        self.script, self.stdout, self.stderr = Path(command[1]).name, [], []
        errors = threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True)
        errors.start()
        threading.Thread(target=self._read, args=(events, on_line, on_done, errors), daemon=True).start()

    def _read(self, events, on_line, on_done, errors):
        for line in self.process.stdout:
            self.stdout.append(line)
            events.put((on_line, line.rstrip("\n")))
        errors.join()
        events.put((on_done, self.process.wait()))


def failure_message(script, returncode, stderr):
    """What to tell the user when a script ended with `returncode`; None when it succeeded.

    The scripts print a user's mistake as 'error: <message>' (exit code 2): that message is the
    whole story. Anything else is a crash, described by its last stderr line.
    """
    if returncode == 0:
        return None
    lines = [line.rstrip() for line in stderr.splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if starts:
        message = "\n".join(lines[starts[-1]:]).strip()
        return message[len("error: "):]
    if returncode < 0:
        return f"{script} was ended by signal {-returncode}."
    last = next((line.strip() for line in reversed(lines) if line.strip()), "no message")
    return f"{script} failed (exit code {returncode}): {last}"


def parse_fid(stdout):
    values = _FID.findall(stdout)
    return float(values[-1]) if values else None
