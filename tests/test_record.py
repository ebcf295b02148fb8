"""One epoch record, many views: the console line, metrics.csv's row, the events.jsonl record and
TensorBoard's scalars all come from the same numbers."""
from training.progress import COLUMNS, METRICS
from training.record import EpochRecord

MEANS = {"g_loss": 0.91, "d_loss": 1.2, "d_acc_real": 0.6, "d_acc_fake": 0.8, "r_t": 0.3}


def record(**changes):
    fields = dict(epoch=1, last_epoch=50, metrics=MEANS, seconds=134.0, images_per_sec=448.0, run_eta=6590.0,
                  saved=True, expected_seconds=6724.0)
    return EpochRecord(**{**fields, **changes})


def test_every_view_shows_the_same_numbers():
    scored = record(epoch=4, augment_p=0.125, fid=31.5, best_fid=(30.25, 2), expected_seconds=None)
    event, row, scalars = scored.event(), scored.row(), scored.scalars()
    assert event["metrics"] == {**MEANS, "augment_p": 0.125, "fid": 31.5}
    assert (event["seconds"], event["images_per_sec"], event["run_eta"], event["saved"]) == (134.0, 448.0, 6590.0, True)
    assert set(row) == set(COLUMNS) and row["epoch"] == 4 and row["fid"] == 31.5 and row["augment_p"] == 0.125
    assert all(row[k] == MEANS[k] for k in METRICS)
    assert scalars == {k: v for k, v in row.items() if k != "epoch"} | {"run_eta": 6590.0}
    assert scored.line() == ("epoch 4/50  g_loss 0.9100  d_loss 1.2000  d_acc_real 0.6000  d_acc_fake 0.8000  "
                             "r_t 0.3000  augment_p 0.125  134s  448 img/s  FID 31.50 (best 30.25 at epoch 2)  "
                             "saved ckpt-4  run 1h 49m left")


def test_the_first_epoch_line_states_the_expected_run_time_and_blank_columns_stay_out():
    first = record(saved=False)
    assert first.line().endswith("448 img/s  run 1h 49m left (expected run time 1h 52m for 50 epochs)")
    assert "fid" not in first.row() and "augment_p" not in first.event()["metrics"]


def test_a_one_epoch_run_says_epoch_not_epochs():
    assert record(epoch=50, saved=False).line().endswith("(expected run time 1h 52m for 1 epoch)")
