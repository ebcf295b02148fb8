"""One trainer per session: an exclusive OS lock on the session folder for the whole run.

fcntl.flock on SESSION/.trainer.lock: the kernel releases it when the process ends in any way,
SIGKILL and power loss included, so a lock is never stale and never needs breaking by hand.
The holder writes its PID and command into the file, so a refused trainer can say who holds it.
Readers (generate_img.py, compute_fid.py, the app's session list) take no lock.
"""
import contextlib
import fcntl
import os
import shlex
import sys
from pathlib import Path

from utils.errors import UserError

FILE_NAME = ".trainer.lock"


def _holder(fd):
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    except OSError:
        return None
    return text or None


@contextlib.contextmanager
def exclusive(session, number, enabled=True):
    """Hold the session's trainer lock inside the block; a UserError, before anything else is
    touched, when another process holds it. enabled=False (a worker that is not the chief) is
    a no-op: the chief's lock stands for the whole cluster."""
    if not enabled:
        yield
        return
    session = Path(session)
    created = not session.exists()
    try:
        session.mkdir(parents=True, exist_ok=True)
        fd = os.open(session / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise UserError(f"Cannot create the session folder {session} ({e.strerror}). "
                        "Pass a writable folder with --checkpoint-root DIR.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd) or "another process (it has not written its PID yet)"
            raise UserError(f"Session {number} is being trained right now by {holder}. Two trainers would write "
                            "into one session; nothing was changed. Wait for that run to finish, or stop it "
                            "(Ctrl-C in its terminal, or kill -TERM PID: it saves its last epoch), then resume."
                            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({shlex.join([Path(sys.executable).name, *sys.argv])})".encode(), 0)
        yield
    finally:
        if created and [p.name for p in session.iterdir()] == [FILE_NAME]:
            # A new session refused before its first write (no images, say) leaves no folder behind.
            (session / FILE_NAME).unlink()
            session.rmdir()
        os.close(fd)  # closing the descriptor releases the lock
