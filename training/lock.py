"""One trainer per session: an exclusive OS lock on the session folder for the whole run.

fcntl.flock on the session folder itself: the kernel releases it when the process ends in any
way, SIGKILL and power loss included, so a lock is never stale and never needs breaking by hand,
and taking it writes nothing. Once the run is planned (and so will go ahead), the holder writes
its PID and command into SESSION/.trainer, so a refused trainer can say who holds the lock.
Readers (generate_img.py, compute_fid.py, the app's session list) take no lock.
"""
import contextlib
import fcntl
import os
import shlex
import sys
from pathlib import Path

from utils import imaging
from utils.errors import UserError

HOLDER_FILE = ".trainer"


class Held:
    def __init__(self, session):
        self.session = session

    def announce(self):
        """Record this process as the holder (call when the run goes ahead, not before: a refused
        run leaves the folder as it was)."""
        if self.session is not None:
            text = f"process {os.getpid()} ({shlex.join([Path(sys.executable).name, *sys.argv])})"
            imaging.write_atomic(self.session / HOLDER_FILE, lambda target: Path(target).write_text(text))


def _holder(session):
    try:
        return (session / HOLDER_FILE).read_text().strip() or None
    except OSError:
        return None


@contextlib.contextmanager
def exclusive(session, number, enabled=True, create=True):
    """Hold the session's trainer lock inside the block; a UserError, before anything is touched,
    when another process holds it. enabled=False (a worker that is not the chief) is a no-op:
    the chief's lock stands for the whole cluster. create=False (a restore) takes no lock on a
    folder that does not exist: there is nothing to protect, and the plan refuses the run."""
    session = Path(session)
    if not enabled or (not create and not session.is_dir()):
        yield Held(None)
        return
    created = []  # the folders this creates, deepest first: a refused new session removes them again
    for folder in (session, *session.parents):
        if folder.exists():
            break
        created.append(folder)
    try:
        session.mkdir(parents=True, exist_ok=True)
        fd = os.open(session, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise UserError(f"Cannot create the session folder {session} ({e.strerror}). "
                        "Pass a writable folder with --checkpoint-root DIR.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(session) or "another process"
            raise UserError(f"Session {number} is being trained right now by {holder}. Two trainers would write "
                            "into one session; nothing was changed. Wait for that run to finish, or stop it "
                            "(Ctrl-C in its terminal, or kill -TERM PID: it saves its last epoch), then resume."
                            ) from None
        yield Held(session)
    finally:
        for folder in created:  # a new session refused before its first write leaves no folder behind
            if any(folder.iterdir()):
                break
            folder.rmdir()
        os.close(fd)  # closing the descriptor releases the lock
