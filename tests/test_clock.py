"""The time left in a run, from its measured speed: the arithmetic by hand, the clock on a fake
clock read, and how the console shows it."""
import pytest

from training.clock import RunClock, run_eta
from utils.console import ProgressReport, duration


def test_the_whole_run_eta_counts_every_step_and_every_maintenance_still_ahead():
    # Step 40 of 100 in epoch 2 of a run to epoch 5, at 0.5 s a step with 3 s between epochs:
    # 60 steps of epoch 2 + 3 epochs of 100 = 360 steps = 180 s; maintenance after epochs 2..5 = 12 s.
    assert run_eta(0.5, 3.0, steps=100, step=40, epoch=2, last_epoch=5) == pytest.approx(192.0)
    # The last step of the last epoch: only its maintenance is left.
    assert run_eta(0.5, 3.0, steps=100, step=100, epoch=5, last_epoch=5) == pytest.approx(3.0)


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_clock_leaves_out_the_traced_step_and_prefers_the_steps_after_the_first_epoch():
    time = FakeTime()
    clock = RunClock(first_epoch=1, last_epoch=3, steps=4, now=time)
    clock.start_epoch(1)
    time.now = 5.0  # step 1 traces the step function: 5 s
    assert clock.stepped(1) == pytest.approx((15.0, 5.0 * 11))  # nothing else measured yet: 5 s a step
    time.now = 6.0
    assert clock.stepped(2) == pytest.approx((2.0, 1.0 * 10))  # from step 2 on, the traced step is left out
    time.now = 8.0
    assert clock.stepped(3) == pytest.approx((1.5, 1.5 * 9))  # steps 2 and 3: (1 + 2) / 2
    time.now = 9.0
    clock.stepped(4)
    assert clock.end_epoch() == pytest.approx(9.0)
    assert clock.expected_total(4) == pytest.approx(9.0 + 4 / 3 * 8)  # epochs 2 and 3 at 4/3 s a step

    time.now = 11.0  # 2 s of maintenance between the epochs
    clock.start_epoch(2)
    time.now = 11.5
    # Epoch 2's steps alone set the pace now: 0.5 s; 3 + 4 steps left, and the maintenance after epochs 2 and 3.
    assert clock.stepped(1) == pytest.approx((1.5, 0.5 * 7 + 2.0 * 2))
    assert clock.expected_total(1) == pytest.approx(11.5 + 7.5)


def test_the_pace_follows_a_change_of_speed_within_two_epochs():
    # A run to epoch 12 of 10 steps: 1 s a step for epochs 2..9, then another job takes half the CPU
    # and steps take 2 s. From epoch 11 on only epochs 10 and 11 count: 2 s a step, where a mean over
    # epochs 2..11 would still say 1.2.
    time = FakeTime()
    clock = RunClock(first_epoch=1, last_epoch=12, steps=10, now=time)
    for epoch in range(1, 12):
        clock.start_epoch(epoch)
        for step in range(1, 11):
            time.now += 1.0 if epoch < 10 else 2.0
            eta, run_eta_left = clock.stepped(step)
        clock.end_epoch()
        if epoch == 10:  # epochs 9 and 10 count: 1.5 s a step
            assert eta == 0.0 and run_eta_left == pytest.approx(1.5 * 20)
    assert clock.seconds_per_step() == pytest.approx(2.0)
    assert run_eta_left == pytest.approx(2.0 * 10)  # epoch 12's steps; no maintenance between these epochs
    clock.start_epoch(12)
    time.now += 2.0
    assert clock.stepped(1) == pytest.approx((2.0 * 9, 2.0 * 9))  # epochs 11 and 12 count


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (45, "45s"), (59.6, "1m 00s"), (725, "12m 05s"),
                                           (6720, "1h 52m"), (93780, "26h 03m")])
def test_durations_read_as_a_person_plans(seconds, text):
    assert duration(seconds) == text


def test_the_plain_progress_line_shows_the_eta_it_is_given_and_a_note(capsys):
    report = ProgressReport(4, "epoch 2/50 step")
    report.update(2, {"g_loss": 0.5}, eta=3.2, note="run 1h 52m left")
    assert capsys.readouterr().out == "epoch 2/50 step 2/4 eta 3s, run 1h 52m left g_loss=0.5000\n"
