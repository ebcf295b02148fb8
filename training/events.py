"""What a run did, as data: one JSON object per line in the session's events.jsonl.

Programs (the app, a dashboard, a plot) read these records instead of the printed lines, which
are for people and may change. Every record has `event` and `time` (Unix seconds); the kinds:

    start       pid, command (argv), first_epoch, last_epoch, steps (per epoch), images, batch_size
    step        epoch, last_epoch, step, steps, eta (seconds left in the epoch), run_eta (seconds left
                in the run: every epoch up to last_epoch), metrics {name: value}
    epoch       epoch, last_epoch, metrics (METRICS, plus fid on epochs with one and augment_p in
                sessions that augment), seconds, images_per_sec, saved (true when ckpt-E was
                written), run_eta (seconds left in the run)
    checkpoint  epoch, prefix
    stop        completed (the last finished epoch), saved (its checkpoint epoch), resume (command), signal
    error       message
    done        last_epoch

A line is written with one append, so readers never see half of one unless the disk filled up;
readers skip a line that does not parse.
"""
import json
import math
import os
import sys
import time
from pathlib import Path

FILE_NAME = "events.jsonl"
STEP_INTERVAL = 1.0  # seconds between step records: an epoch of any length costs a bounded number


def _clean(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


class EventLog:
    """Appends records to SESSION/events.jsonl; a disabled log (a worker that is not the chief)
    writes nothing."""

    def __init__(self, session, enabled=True):
        self.path = Path(session) / FILE_NAME
        self.enabled = enabled
        self._last_step = -math.inf

    def write(self, event, **fields):
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **_clean(fields)}
        line = (json.dumps(record, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def start(self, **fields):
        self.write("start", pid=os.getpid(), command=[sys.executable, *sys.argv], **fields)

    def step(self, last=False, **fields):
        """A step record, unless one was written less than STEP_INTERVAL ago and this is not the
        epoch's last step."""
        now = time.monotonic()
        if last or now - self._last_step >= STEP_INTERVAL:
            self._last_step = now
            self.write("step", **fields)


def read_events(path, offset=0):
    """(records after byte `offset`, the offset after the last complete line)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    complete = data.rfind(b"\n") + 1  # a line still being written is read next time
    records = []
    for line in data[:complete].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "event" in record:
            records.append(record)
    return records, offset + complete
