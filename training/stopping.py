"""Stopping a run cleanly: SIGINT or SIGTERM ends training after the current step, at the same
step on every worker of a cluster."""
import signal

import tensorflow as tf


class GracefulStop:
    """SIGINT/SIGTERM set a flag that goes into the next training step; a second signal aborts at once.

    The step sums the flags of all workers, so every worker of a multi-worker run learns of a
    stop at the same step (`agreed`) and they all leave the loop together: a worker that left
    alone would leave the others waiting in their next all-reduce.
    """

    def __enter__(self):
        self.signum = None
        self.agreed = False
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name} received: stopping after the next step "
              "(send it again to abort at once).", flush=True)

    @property
    def flag(self):
        return tf.constant(0.0 if self.signum is None else 1.0)

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def exit_code(self):
        """The process's exit code after a stop: 128 + the signal, as a shell reports a death by it.
        A worker stopped by another worker's signal exits as if it had been sent SIGTERM."""
        return 128 + (self.signum or signal.SIGTERM)
