"""DCGAN_train.py end to end: outputs of a session, resume with -r, and every refusal."""
import csv
import re
import shutil
import subprocess
import sys

import imageio.v3 as iio
import pytest
import yaml

from utils import cli
import DCGAN_train
from conftest import REPO, TINY, make_image_folder, run_script, snapshot

pytestmark = pytest.mark.slow  # trains real sessions


def rows(session):
    with open(session / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Session 1 trained for epochs 1..3 with a checkpoint every 2 epochs (so: 2 and 3)."""
    base = tmp_path_factory.mktemp("train")
    data = make_image_folder(base / "images", count=8)
    root = base / "ck"
    result = run_script("DCGAN_train.py", "--checkpoint-root", root, 1, 3, "--data", data, *TINY,
                        "--set", "checkpoint_every=2")
    assert result.returncode == 0, result.stdout + result.stderr
    return root, data, result


def test_a_session_has_checkpoints_grids_gif_metrics_plot_and_logs(trained):
    root, _, result = trained
    session = root / "training_1"
    state = (session / "checkpoint").read_text()
    assert '"ckpt-2"' in state and '"ckpt-3"' in state and '"ckpt-1"' not in state
    assert sorted(p.name for p in (session / "images").iterdir()) == [f"epoch_000{i}.png" for i in (1, 2, 3)]
    grid = iio.imread(session / "images" / "epoch_0001.png")
    assert grid.ndim == 2 and grid.shape == (2 * (3 * 30 + 2), 2 * (3 * 30 + 2))  # 9 tiles of 28+2 px, x2
    assert iio.improps(session / "progress.gif").shape[0] == 3
    assert [r["epoch"] for r in rows(session)] == ["1", "2", "3"]
    assert set(rows(session)[0]) == {"epoch", "g_loss", "d_loss", "d_acc_real", "d_acc_fake", "r_t", "seconds",
                                     "images_per_sec", "fid", "augment_p"}
    assert -1 <= float(rows(session)[0]["r_t"]) <= 1 and rows(session)[0]["augment_p"] == ""
    assert rows(session)[0]["fid"] == ""  # FID is off by default
    assert iio.improps(session / "losses.png").shape[0] > 100
    assert list((session / "logs").glob("events.out.tfevents.*"))
    stored = yaml.safe_load((session / "config.yaml").read_text())
    assert stored["g_filters"] == 8 and stored["dataset"] == "folder"
    assert "epoch 3/3" in result.stdout and "progress.gif" in result.stdout


def _sample_noise(prefix):
    import tensorflow as tf
    return tf.train.load_checkpoint(str(prefix)).get_tensor("sample_noise/.ATTRIBUTES/VARIABLE_VALUE")


def test_epoch_grids_come_from_one_fixed_noise(trained, tmp_path):
    import numpy as np
    root, _, _ = trained
    session = root / "training_1"
    second, third = _sample_noise(session / "ckpt-2"), _sample_noise(session / "ckpt-3")
    assert second.shape == (9, 100) and second.std() > 0.5
    np.testing.assert_array_equal(second, third)
    copy = tmp_path / "ck"
    shutil.copytree(root, copy)
    assert run_script("DCGAN_train.py", "--checkpoint-root", copy, "-r", 3, 1, 4).returncode == 0
    np.testing.assert_array_equal(_sample_noise(copy / "training_1" / "ckpt-4"), second)
    first = iio.imread(session / "images" / "epoch_0001.png")
    assert first.shape == iio.imread(session / "images" / "epoch_0003.png").shape


def test_a_run_records_its_progress_as_json_lines(trained):
    from training.events import read_events
    root, _, _ = trained
    records, _ = read_events(root / "training_1" / "events.jsonl")
    kinds = [r["event"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert records[0]["last_epoch"] == 3 and records[0]["steps"] == 2
    assert records[0]["command"][1].endswith("DCGAN_train.py") and records[0]["pid"] > 0
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3] and [r["saved"] for r in epochs] == [False, True, True]
    assert set(epochs[0]["metrics"]) == {"g_loss", "d_loss", "d_acc_real", "d_acc_fake", "r_t"}
    assert [r["epoch"] for r in records if r["event"] == "checkpoint"] == [2, 3]
    steps = [r for r in records if r["event"] == "step"]
    # The last step of each epoch is always recorded; the others at most once a second.
    assert [(r["epoch"], r["step"]) for r in steps if r["step"] == r["steps"]] == [(1, 2), (2, 2), (3, 2)]
    assert kinds.index("checkpoint") < kinds.index("epoch", kinds.index("checkpoint"))


@pytest.mark.slow
def test_the_run_says_how_long_it_has_left_and_its_first_epoch_line_how_long_it_takes(trained):
    from training.events import read_events
    root, _, result = trained
    records, _ = read_events(root / "training_1" / "events.jsonl")
    steps = [r for r in records if r["event"] == "step"]
    assert all(r["run_eta"] >= r["eta"] >= 0 for r in steps)  # the run's time left holds the epoch's
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    # An epoch's record and its last step's are estimated from the same measurements.
    last_steps = {r["epoch"]: r["run_eta"] for r in steps if r["step"] == r["steps"]}
    assert [r["run_eta"] for r in epochs] == [last_steps[e] for e in (1, 2, 3)]
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ") and "img/s" in line]
    span = r"(\d+h )?(\d+m )?\d+[sm]"  # utils.console.duration: 45s, 12m 05s, 1h 52m
    assert re.search(rf"  run {span} left \(expected run time {span} for 3 epochs\)$", lines[0]), lines[0]
    assert all(re.search(rf"  run {span} left$", line) for line in lines[1:]), lines
    assert re.search(rf"^epoch 1/3 step 1/2 eta \d+s, run {span} left g_loss=", result.stdout, re.M)


def test_resume_continues_numbering_and_appends_metrics(trained, tmp_path):
    root, data, _ = trained
    copy = tmp_path / "ck"
    shutil.copytree(root, copy)
    # No --set for the tiny architecture: the session's stored config rebuilds it.
    result = run_script("DCGAN_train.py", "--checkpoint-root", copy, "-r", 3, 1, 5)
    assert result.returncode == 0, result.stdout + result.stderr
    session = copy / "training_1"
    assert "Restored session 1" in result.stdout and "epoch 4/5" in result.stdout
    assert "(expected run time " in result.stdout and " for 2 epochs)" in result.stdout  # this run's epochs
    assert [r["epoch"] for r in rows(session)] == ["1", "2", "3", "4", "5"]
    assert rows(session)[:3] == rows(root / "training_1")
    assert (session / "images" / "epoch_0005.png").exists()
    assert iio.improps(session / "progress.gif").shape[0] == 5  # grids from before the restore included


def test_resume_may_change_training_settings_and_records_them(trained, tmp_path):
    root, _, _ = trained
    copy = tmp_path / "ck"
    shutil.copytree(root, copy)
    result = run_script("DCGAN_train.py", "--checkpoint-root", copy, "-r", 3, 1, 4, "--set", "g_lr=1e-4")
    assert result.returncode == 0, result.stderr
    assert "g_lr: 0.0002 -> 0.0001" in result.stdout
    assert yaml.safe_load((copy / "training_1" / "config.yaml").read_text())["g_lr"] == 1e-4


@pytest.mark.parametrize("args, message", [
    ([1, 5], "already has checkpoints (epochs 2, 3); nothing was changed. To continue it: python DCGAN_train.py"),
    (["-r", 1, 1, 5], "no checkpoint for epoch 1. Epochs with a checkpoint: 2, 3"),
    (["-r", 2, 1, 5], "checkpoints after epoch 2 (3)"),
    (["-r", 3, 1, 3], "EPOCHS (3) must be greater than the restored epoch (3)"),
    (["-r", 3, 7, 5], "Session 7 does not exist"),
    (["-r", 3, 1, 5, "--set", "noise_dim=64"], "cannot change noise_dim: 100 -> 64"),
    (["-r", 3, 1, 5, "--set", "channels=3"], "cannot change channels: 1 -> 3"),
    (["-r", 3, 1, 5, "--set", "g_filters=16"], "cannot change g_filters: 8 -> 16"),
    ([2, 5, "--set", "image_size=48"], "28, 32, 64, 128"),
    ([2, 5, "--set", "epochs=5"], "Unknown config key 'epochs'"),
    ([2, 5, "--data", "/no/such/folder"], "no such folder"),
    ([2, 5, "--config", "/no/such.yaml"], "does not exist"),
    (["two", 5], "session number must be a whole number"),
    ([2, -1], "EPOCHS must be at least 1"),
    (["-r", "x", 1, 5], "restore epoch (-r) must be a whole number"),
])
def test_refusals_are_one_clear_message_and_change_nothing(trained, args, message, capsys):
    root, _, _ = trained
    before = snapshot(root)
    with pytest.raises(SystemExit) as exit_code:  # the script's own boundary, in-process to save start-ups
        cli.run(lambda: DCGAN_train.main(["--checkpoint-root", str(root), *map(str, args)]))
    stderr = capsys.readouterr().err
    assert exit_code.value.code == 2 and message in stderr and stderr.count("error:") == 1
    assert snapshot(root) == before


@pytest.mark.parametrize("args, message", [
    ([1, 5], "To continue it: python DCGAN_train.py"),
    (["-r", 3, 1, 5, "--set", "noise_dim=64"], "cannot change noise_dim"),
])
def test_refusals_from_a_real_process_have_no_traceback(trained, args, message):
    root, _, _ = trained
    result = run_script("DCGAN_train.py", "--checkpoint-root", root, *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_refused_run_is_answered_before_tensorflow_is_loaded(trained):
    root, _, _ = trained
    argv = ["DCGAN_train.py", "--checkpoint-root", str(root), "-r", "3", "1", "5", "--set", "noise_dim=64"]
    code = ("import atexit, runpy, sys; atexit.register(lambda: print('tensorflow loaded:', 'tensorflow' in "
            f"sys.modules)); sys.argv = {argv!r}; runpy.run_path('DCGAN_train.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "cannot change noise_dim" in result.stderr
    assert "tensorflow loaded: False" in result.stdout


def test_the_epoch_summary_carries_the_overfitting_warning(tmp_path, monkeypatch, capsys):
    from training import progress
    # Any r_t counts, so the warning is due once 4 steps (two epochs of 8 images in batches of 4) are done.
    monkeypatch.setattr(progress, "OVERFIT_SIGNAL", -1.0)
    monkeypatch.setattr(progress, "OVERFIT_STEPS", 4)
    data = make_image_folder(tmp_path / "images", count=8)
    DCGAN_train.main(["--checkpoint-root", str(tmp_path / "ck"), "1", "3", "--data", str(data), *TINY])
    lines = capsys.readouterr().out.splitlines()
    summaries = [i for i, line in enumerate(lines) if line.startswith("epoch ") and "img/s" in line]
    warnings = [i for i, line in enumerate(lines) if "warning: r_t" in line]
    assert len(summaries) == 3 and warnings == [summaries[1] + 1, summaries[2] + 1]
    assert all("over the last 4 steps" in lines[i] for i in warnings)  # the newest epochs that make up 4 steps


def test_the_gif_skipped_mid_run_by_the_throttle_is_written_at_the_end(tmp_path, monkeypatch):
    from training import progress
    monkeypatch.setattr(progress, "SUMMARY_SHARE", 1e-9)  # mid-run, only the first write is ever due
    data = make_image_folder(tmp_path / "images", count=8)
    DCGAN_train.main(["--checkpoint-root", str(tmp_path / "ck"), "1", "3", "--data", str(data), *TINY])
    assert iio.improps(tmp_path / "ck" / "training_1" / "progress.gif").shape[0] == 3


def test_too_few_images_for_a_batch_writes_nothing(tmp_path):
    data = make_image_folder(tmp_path / "two", count=2)
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", 1, 1, "--data", data, *TINY)
    assert result.returncode == 2 and "fewer than one batch" in result.stderr
    assert not (tmp_path / "ck").exists()


def test_max_to_keep_prunes_old_checkpoints(tmp_path):
    data = make_image_folder(tmp_path / "images", count=4)
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", 1, 3, "--data", data, *TINY,
                        "--set", "max_to_keep=2")
    assert result.returncode == 0, result.stderr
    indexes = sorted(p.name for p in (tmp_path / "ck" / "training_1").glob("ckpt-*.index"))
    assert indexes == ["ckpt-2.index", "ckpt-3.index"]


def test_fid_every_adds_a_fid_column_the_best_epoch_and_a_plot(tmp_path):
    data = make_image_folder(tmp_path / "images", count=8)
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", 1, 2, "--data", data, *TINY,
                        "--set", "fid_every=2", "--set", "fid_num=8", "--set", "fid_weights=random",
                        "--set", f"cache_dir={tmp_path / 'cache'}")
    assert result.returncode == 0, result.stdout + result.stderr
    fids = [row["fid"] for row in rows(tmp_path / "ck" / "training_1")]
    assert fids[0] == "" and float(fids[1]) > 0
    assert "best " in result.stdout and "at epoch 2" in result.stdout
    assert list((tmp_path / "cache" / "fid").glob("*.npz"))  # the real side is cached for the next run


def test_a_session_from_before_a_config_key_existed_still_resumes(trained, tmp_path):
    root, _, _ = trained
    copy = tmp_path / "ck"
    shutil.copytree(root, copy)
    stored = copy / "training_1" / "config.yaml"
    stored.write_text("".join(line for line in stored.read_text().splitlines(keepends=True)
                              if not line.startswith(("jit_compile", "cache_dir"))))
    result = run_script("DCGAN_train.py", "--checkpoint-root", copy, "-r", 3, 1, 4)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("key, default_now, trained_with", [
    ("beta2", 0.99, 0.999),  # Keras' Adam
    ("precision", "auto", "float32"),  # sessions from before any precision key
])
def test_a_session_from_before_a_key_existed_keeps_the_value_it_was_trained_with(tmp_path, key, default_now,
                                                                                 trained_with):
    from training import config, sessions
    session = tmp_path / "training_1"
    session.mkdir()
    stored = config.load_config()
    del stored[key]
    (session / "config.yaml").write_text(config.dump(stored))
    assert config.load_config()[key] == default_now
    assert sessions.read_stored_config(session)[key] == trained_with


def tiny_state(**overrides):
    from training import config
    from training import state as session_state
    cfg = config.load_config(overrides={"g_filters": 4, "d_filters": 4, "num_examples": 4, "precision": "float32",
                                        **overrides})
    return session_state.GanState(cfg)


def test_the_average_generator_moves_by_one_minus_decay_and_copies_batchnorm_statistics():
    import numpy as np
    state = tiny_state()
    before = state.ema_generator.get_weights()
    for variable in state.generator.variables:
        variable.assign(variable + 1.0)
    state.update_ema(0.9)
    for average, old, live, variable in zip(state.ema_generator.get_weights(), before,
                                            state.generator.get_weights(), state.generator.variables):
        expected = 0.9 * old + 0.1 * live if variable.trainable else live
        np.testing.assert_allclose(average, expected, rtol=1e-6)


def test_grids_come_from_the_average_generator_stored_in_the_checkpoint(trained):
    import numpy as np
    from training import state as session_state
    from utils.imaging import to_uint8
    root, _, _ = trained
    state, epoch = session_state.load_session(root, 1, 3)
    grid = iio.imread(root / "training_1" / "images" / "epoch_0003.png")[::2, ::2]  # undo the x2 enlargement
    tile = grid[2:30, 2:30]  # the first of the 9 tiles
    assert np.abs(tile.astype(int) - to_uint8(state.samples())[0, ..., 0]).max() <= 1
    raw = state.generator(state.sample_noise, training=False).numpy()
    assert np.abs(raw - state.samples()).max() > 1e-3  # a different network from the average


def test_a_checkpoint_from_before_the_average_restores_with_the_average_set_to_the_generator(tmp_path):
    import numpy as np
    import tensorflow as tf
    old = tiny_state()
    for variable in old.generator.trainable_variables:
        variable.assign(variable * 2.0)
    prefix = tf.train.Checkpoint(**old._parts).save(str(tmp_path / "ckpt"))  # no ema_generator in it
    new = tiny_state()
    new.restore(prefix)
    for average, live in zip(new.ema_generator.get_weights(), old.generator.get_weights()):
        np.testing.assert_array_equal(average, live)
