"""Progress of long loops for a person: a Keras bar on a terminal, plain lines elsewhere."""
import sys
import time


class ProgressReport:
    """A Keras progress bar on a terminal; elsewhere (logs, pipes, the GUI) a plain line
    `LABEL done/total eta Ns key=value ...` about every 10%."""

    def __init__(self, total, label, unit_name="step", metrics=()):
        import keras
        self.total, self.label = total, label
        self.start = time.monotonic()
        self._every = max(1, total // 10)
        self._next = self._every  # progress (done) at which the next plain line is due
        tty = sys.stdout.isatty()
        self.bar = keras.utils.Progbar(total, stateful_metrics=metrics, unit_name=unit_name) if tty else None

    def update(self, done, values=None):
        values = values or {}
        if self.bar:
            self.bar.update(done, list(values.items()))
        elif done >= self._next:
            eta = (time.monotonic() - self.start) / done * (self.total - done)
            text = " ".join(f"{k}={v:.4f}" for k, v in values.items())
            print(f"{self.label} {done}/{self.total} eta {eta:.0f}s {text}".rstrip(), flush=True)
            # Updates may jump (a batch of images at a time): the next line is due at the next tenth.
            self._next = self.total + 1 if done >= self.total else (done // self._every + 1) * self._every
