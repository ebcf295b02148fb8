"""Progress of long loops for a person: a Keras bar on a terminal, plain lines elsewhere."""
import sys
import time


def duration(seconds):
    """A span of time as a person plans by: '45s', '12m 05s', '1h 52m' (hours past a day stay hours)."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class ProgressReport:
    """A Keras progress bar on a terminal; elsewhere (logs, pipes, the GUI) a plain line
    `LABEL done/total eta Ns[, NOTE] key=value ...` about every 10%."""

    def __init__(self, total, label, unit_name="step", metrics=()):
        import keras
        self.total, self.label, self.unit_name = total, label, unit_name
        self.start = time.monotonic()
        self._every = max(1, total // 10)
        self._next = self._every  # progress (done) at which the next plain line is due
        tty = sys.stdout.isatty()
        self.bar = keras.utils.Progbar(total, stateful_metrics=metrics, unit_name=unit_name) if tty else None

    def update(self, done, values=None, eta=None, note=None):
        """eta: the caller's estimate of the seconds left (default: elapsed time per unit so far);
        note: text shown beside it, e.g. the time left in a longer job this loop is part of."""
        values = values or {}
        if self.bar:
            if note:  # the bar prints only numbers beside its metrics; its unit label takes text
                self.bar.unit_name = f"{self.unit_name}, {note}"
            self.bar.update(done, list(values.items()))
        elif done >= self._next:
            if eta is None:
                eta = (time.monotonic() - self.start) / done * (self.total - done)
            text = " ".join(f"{k}={v:.4f}" for k, v in values.items())
            print(f"{self.label} {done}/{self.total} eta {eta:.0f}s{f', {note}' if note else ''} {text}".rstrip(),
                  flush=True)
            # Updates may jump (a batch of images at a time): the next line is due at the next tenth.
            self._next = self.total + 1 if done >= self.total else (done // self._every + 1) * self._every
