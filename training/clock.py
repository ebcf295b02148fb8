"""How long the rest of a run will take, from this run's own measured speed.

Seconds per step: the run's first step traces the step function (seconds, where the others take
milliseconds), so it counts only until a second step has been measured; once the run is past its
first epoch, only the steps of the current epoch and the one before it count. That is what the
epochs still to come are like: a shared CPU changes speed within a run (another job starts or ends),
and a mean over the whole run follows such a change the more slowly the longer the run has been.
Between two epochs the run does its maintenance (sample grid, metrics, checkpoint, FID, the next
epoch's input pipeline): its mean over all of this run's epochs so far is added once per epoch
still to finish (all of them, because with fid_every or checkpoint_every above 1 one epoch's
maintenance differs from the next one's). During the first epoch none has been measured yet, so
the estimate is the steps alone.
"""
import time


def run_eta(seconds_per_step, maintenance, steps, step, epoch, last_epoch):
    """Seconds to the end of the run after step `step` of `steps` in `epoch`: the steps left in
    this epoch and in epochs epoch+1..last_epoch, and the maintenance after each of those epochs,
    this one included."""
    steps_left = steps - step + steps * (last_epoch - epoch)
    return seconds_per_step * steps_left + maintenance * (last_epoch - epoch + 1)


class _Mean:
    def __init__(self):
        self.total, self.count = 0.0, 0

    def add(self, seconds):
        self.total += seconds
        self.count += 1

    @property
    def value(self):
        return self.total / self.count if self.count else None


class RunClock:
    """Times a run's steps and the gaps between its epochs, and estimates the time left."""

    def __init__(self, first_epoch, last_epoch, steps, now=time.monotonic):
        """now: the clock read (a test passes a fake one)."""
        self.first_epoch, self.last_epoch, self.steps, self._now = first_epoch, last_epoch, steps, now
        self.started = now()
        self.epoch = first_epoch
        self._traced = None  # the run's first step
        self._first = _Mean()  # the first epoch's later steps
        self._previous, self._current = _Mean(), _Mean()  # the steps of the last two epochs after the first
        self._maintenance = _Mean()
        self._epoch_start = self._mark = self._epoch_end = None

    def start_epoch(self, epoch):
        now = self._now()
        if self._epoch_end is not None:
            self._maintenance.add(now - self._epoch_end)
        if self._current.count:
            self._previous, self._current = self._current, _Mean()
        self.epoch, self._epoch_start, self._mark = epoch, now, now

    def stepped(self, step):
        """Note the end of step `step` of the epoch; returns left(step)."""
        now = self._now()
        seconds, self._mark = now - self._mark, now
        if self.epoch > self.first_epoch:
            self._current.add(seconds)
        elif self._traced is None:
            self._traced = seconds
        else:
            self._first.add(seconds)
        return self.left(step)

    def end_epoch(self):
        """The epoch's seconds since start_epoch; the time until the next start_epoch is maintenance."""
        self._epoch_end = self._now()
        return self._epoch_end - self._epoch_start

    def seconds_per_step(self):
        recent = self._previous.count + self._current.count
        if recent:
            return (self._previous.total + self._current.total) / recent
        for measured in (self._first.value, self._traced):
            if measured is not None:
                return measured
        return None

    def left(self, step):
        """(seconds left in the epoch, seconds left in the run) after step `step` of the current epoch."""
        rate = self.seconds_per_step()
        return rate * (self.steps - step), run_eta(rate, self._maintenance.value or 0.0, self.steps, step,
                                                   self.epoch, self.last_epoch)

    def expected_total(self, step):
        """The run's expected duration, start to end, as estimated after step `step` of the current epoch."""
        return self._now() - self.started + self.left(step)[1]
