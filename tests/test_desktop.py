"""desktop/: what the Data Generator window knows, tested without a display; a section per module."""
import csv
import gzip
import json
import queue
import shutil
import struct
import sys
import time

import numpy as np
import pytest
from PIL import Image

from training import config
import DCGAN_train
import generate_img
from conftest import REPO, run_script
from data import decode, idx
from data.idx import FASHION_MNIST_CLASSES
from desktop.commands import (class_choices, default_class_name, fid_command, generate_command, grid_path,
                              output_folder, prefill, resume_command, save_folder, train_command)
from desktop.images import example_grid, examples_for, fit_image
from desktop.jobs import ScriptJob, failure_message, parse_fid
from desktop.progress import (EventTail, describe_progress, fraction_done, progress_from_event, total_eta,
                              training_outcome)
from desktop.summaries import epoch_grid, epoch_grids, list_sessions, next_session_number, summarize
from utils.errors import UserError

METRICS = {"g_loss": 0.9, "d_loss": 1.2, "d_acc_real": 0.6, "d_acc_fake": 0.8}
STEP = {"event": "step", "time": 1.0, "epoch": 3, "last_epoch": 10, "step": 120, "steps": 468, "eta": 95.0,
        "metrics": METRICS}
EPOCH = {"event": "epoch", "time": 2.0, "epoch": 3, "last_epoch": 10, "metrics": METRICS, "seconds": 300.0,
         "images_per_sec": 200.0, "saved": True}


@pytest.fixture
def root(gray_session, tmp_path):
    """A copy of the checkpoint root of the tiny grayscale session (session 1, epochs 1 and 2)."""
    copy = tmp_path / "ckpts"
    shutil.copytree(gray_session[0], copy)
    return copy


@pytest.fixture
def session(root):
    return summarize(root, 1)


def form(**changes):
    """The training form as the defaults fill it, with some fields retyped."""
    return {**prefill(), "epochs": "5", **changes}


# --- desktop.summaries: sessions ---------------------------------------------------------------

@pytest.mark.slow
def test_sessions_are_listed_with_their_data_size_epochs_and_checkpoints(root):
    (summary,) = list_sessions(root)
    assert (summary.number, summary.checkpoints, summary.epochs_trained, summary.best_fid) == (1, [1, 2], 2, None)
    assert summary.row() == (1, "folder images", "28x28x1", 2, 2, "", "")  # no classes: unconditional
    assert next_session_number(root) == 2


@pytest.mark.slow
def test_best_fid_is_the_lowest_of_a_sparse_fid_column(root):
    metrics = root / "training_1" / "metrics.csv"
    with open(metrics, newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    assert columns.count("fid") == 1
    for row, value in zip(rows, ["", "41.5"]):  # computed only some epochs: blank cells must not break the listing
        row["fid"] = value
    with open(metrics, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    assert summarize(root, 1).best_fid == 41.5
    assert summarize(root, 1).row()[-1] == "41.5"


@pytest.mark.slow
def test_a_session_with_a_broken_config_is_listed_not_fatal(root):
    broken = root / "training_4"
    broken.mkdir()
    (broken / "config.yaml").write_text("noise_dim: [unclosed")
    summaries = {s.number: s for s in list_sessions(root)}
    assert sorted(summaries) == [1, 4]
    assert summaries[4].cfg is None and "not valid YAML" in summaries[4].problem
    assert summaries[4].row()[1:5] == ("unreadable config", "?", 0, "none")
    with pytest.raises(UserError, match="not valid YAML"):
        generate_command(root, summaries[4], "5")
    assert next_session_number(root) == 5


@pytest.mark.slow
def test_epoch_grids_are_in_epoch_order(session, root):
    assert [p.name for p in epoch_grids(session.folder)] == ["epoch_0001.png", "epoch_0002.png"]
    assert epoch_grid(root, 1, 2) == session.folder / "images" / "epoch_0002.png"


# --- desktop.commands: the form's pre-fill and checks ------------------------------------------

def test_prefill_from_defaults_is_the_default_config():
    fields = prefill()
    # Written out, not derived from the config: a field the form drops or a default it misreads fails here.
    assert fields == {"noise_dim": "100", "epochs": "10", "batch_size": "64", "image_size": "28", "channels": "1",
                      "g_lr": "0.0002", "d_lr": "0.0002", "beta1": "0.5", "label_smoothing": "0.9",
                      "init_std": "0.02"}
    assert (fields["noise_dim"], fields["g_lr"], fields["beta1"]) == ("100", "0.0002", "0.5")


@pytest.mark.slow
def test_prefill_from_a_session_is_its_stored_config_and_ten_more_epochs(session):
    fields = prefill(session)
    assert (fields["batch_size"], fields["channels"], fields["image_size"]) == ("4", "1", "28")  # the tiny session's
    assert fields["epochs"] == "12"


@pytest.mark.parametrize("key, text", [("g_lr", "2"), ("image_size", "30"), ("beta1", "abc"), ("batch_size", "0")])
@pytest.mark.slow
def test_bad_values_are_refused_with_the_configs_own_message(root, key, text):
    with pytest.raises(UserError) as from_config:
        config.load_config(overrides=config.parse_overrides([f"{key}={text}"]))
    with pytest.raises(UserError) as from_form:
        train_command(form(**{key: text}), root)
    assert str(from_form.value) == str(from_config.value)
    assert f"'{key}'" in str(from_form.value)


@pytest.mark.parametrize("changes, message", [
    ({"d_lr": " "}, "D learning rate is empty"),
    ({"epochs": "0"}, "Epochs must be at least 1, got 0"),
    ({"epochs": "ten"}, "Epochs must be a whole number, got 'ten'"),
])
@pytest.mark.slow
def test_empty_fields_and_bad_epochs_are_refused(root, changes, message):
    with pytest.raises(UserError, match=message):
        train_command(form(**changes), root)


@pytest.mark.slow
def test_a_missing_data_folder_is_refused_before_training(root, tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        train_command(form(), root, data_folder=str(tmp_path / "nowhere"))


@pytest.mark.slow
def test_resume_is_refused_when_the_script_would_refuse_it(root, session):
    with pytest.raises(UserError, match=r"must be greater than the restored epoch \(2\)"):
        resume_command(dict(prefill(session), epochs="2"), root, session)
    with pytest.raises(UserError, match="noise_dim: 100 -> 50"):
        resume_command(dict(prefill(session), epochs="4", noise_dim="50"), root, session)


# --- desktop.commands: command lines -----------------------------------------------------------

@pytest.mark.slow
def test_train_command_for_a_new_session_from_the_defaults_and_a_folder(root, tmp_path):
    folder = tmp_path / "shoes"
    folder.mkdir()
    number, command = train_command(form(g_lr=" 1e-4 "), root, data_folder=str(folder))
    assert number == 2
    assert command == [sys.executable, str(REPO / "DCGAN_train.py"), "--checkpoint-root", str(root),
                       "--data", str(folder), "--set", "noise_dim=100", "--set", "batch_size=64",
                       "--set", "image_size=28", "--set", "channels=1",
                       "--set", "g_lr=1e-4",  # as typed, stripped: the script reads it the same way
                       "--set", "d_lr=0.0002", "--set", "beta1=0.5", "--set", "label_smoothing=0.9",
                       "--set", "init_std=0.02", "2", "5"]
    args = DCGAN_train.parse_args(command[2:])  # the script's own parser takes it as meant
    assert (args.session, args.epochs, args.restore, args.data) == ("2", "5", None, str(folder))
    assert config.load_config(overrides=config.parse_overrides(args.overrides))["g_lr"] == 1e-4


@pytest.mark.slow
def test_train_command_from_a_selected_session_starts_from_its_config(root, session):
    number, command = train_command(dict(prefill(session), epochs="3"), root, base=session)
    assert number == 2
    assert command[2:6] == ["--checkpoint-root", str(root), "--config", str(session.folder / "config.yaml")]
    assert command[-2:] == ["2", "3"] and "--data" not in command and "-r" not in command


@pytest.mark.slow
def test_resume_command_continues_from_the_newest_checkpoint(root, session):
    command = resume_command(dict(prefill(session), epochs="4", g_lr="1e-4"), root, session)
    assert command[:6] == [sys.executable, str(REPO / "DCGAN_train.py"), "--checkpoint-root", str(root), "-r", "2"]
    assert "g_lr=1e-4" in command and command[-2:] == ["1", "4"]
    args = DCGAN_train.parse_args(command[2:])
    assert (args.session, args.epochs, args.restore) == ("1", "4", "2")


@pytest.mark.slow
def test_generate_command_with_and_without_seed_epoch_and_folder(root, session, tmp_path):
    script = [sys.executable, str(REPO / "generate_img.py"), "--checkpoint-root", str(root)]
    assert generate_command(root, session, "16") == script + ["1", "100", "16"]
    out = output_folder(tmp_path, " sneaker ")
    assert out == tmp_path / "sneaker"
    command = generate_command(root, session, "5000", seed="7", epoch="1", out_dir=out)
    assert command == script + ["--epoch", "1", "--seed", "7", "--out", str(out), "1", "100", "5000"]
    args = generate_img.parse_args(command[2:])
    assert (args.training, args.noise_dim, args.num, args.epoch, args.seed, args.out) == \
        ("1", "100", "5000", "1", "7", str(out))
    assert grid_path(session) == session.folder / "grid.png"


@pytest.mark.slow
def test_a_conditional_session_lists_its_number_of_classes_and_offers_each(conditional_session, session):
    root, number = conditional_session
    summary = summarize(root, number)
    assert summary.row() == (number, f"fashion_mnist ({summary.cfg['data_dir']})", "28x28x1", 1, 1, 10, "")
    assert class_choices(summary) == ["all classes", *FASHION_MNIST_CLASSES]
    assert class_choices(session) == [] and class_choices(None) == []


@pytest.mark.slow
def test_generate_command_with_a_class_and_the_per_class_save_folder(conditional_session, tmp_path):
    root, number = conditional_session
    summary = summarize(root, number)
    script = [sys.executable, str(REPO / "generate_img.py"), "--checkpoint-root", str(root)]
    for every in ("", "all classes"):
        assert generate_command(root, summary, "3", class_name=every) == script + [str(number), "100", "3"]
    # A conditional session's images go to FOLDER/<class>/, which the script makes: FOLDER itself is --out.
    out = save_folder(summary, tmp_path, "ignored")
    assert out == tmp_path
    command = generate_command(root, summary, "5", seed="7", out_dir=out, class_name=" T-shirt/top ")
    assert command == script + ["--seed", "7", "--class", "T-shirt/top", "--out", str(tmp_path), str(number), "100", "5"]
    args = generate_img.parse_args(command[2:])
    assert (args.classes, args.out, args.num) == (["T-shirt/top"], str(tmp_path), "5")
    assert generate_command(root, summary, "5", class_name="8")[-5:-3] == ["--class", "8"]
    with pytest.raises(UserError, match=r"has no class 'Shoe'\. Its classes, by index: 0 T-shirt/top, .*9 Ankle boot\. "
                                        r"Pick one of these names or indices with the Class choice\."):
        generate_command(root, summary, "5", class_name="Shoe")


@pytest.mark.slow
def test_an_unconditional_session_saves_into_the_class_folder_and_takes_no_class(root, session, tmp_path):
    assert save_folder(session, tmp_path, " sneaker ") == tmp_path / "sneaker"
    with pytest.raises(UserError, match="trained without classes"):
        generate_command(root, session, "5", class_name="sneaker")


@pytest.mark.parametrize("kwargs, message", [
    ({"num": "0"}, "Number of images must be at least 1"),
    ({"num": "4", "epoch": "7"}, "has no checkpoint for epoch 7. Epochs with a checkpoint: 1, 2"),
    ({"num": "4", "seed": "-1"}, "Seed must be a whole number|Seed must be at least 0"),
])
@pytest.mark.slow
def test_generate_refuses_what_the_script_would(root, session, kwargs, message):
    with pytest.raises(UserError, match=message):
        generate_command(root, session, **kwargs)


@pytest.mark.parametrize("name", ["", "  ", "a/b", ".."])
def test_class_name_must_be_one_folder_name(tmp_path, name):
    with pytest.raises(UserError, match="must be one folder name"):
        output_folder(tmp_path, name)


@pytest.mark.slow
def test_default_class_name_is_the_data_folder_or_dataset_name(session):
    assert default_class_name(session.cfg) == "images"
    assert default_class_name(config.load_config()) == "fashion_mnist"


@pytest.mark.slow
def test_fid_command_uses_the_sessions_fid_settings(root, session):
    script = [sys.executable, str(REPO / "compute_fid.py"), "--checkpoint-root", str(root)]
    assert fid_command(root, session) == script + ["--fake", "1", "--num", "10000"]
    session.cfg = dict(session.cfg, fid_num=500, fid_weights="/w/inception.h5")
    assert fid_command(root, session, scripts_dir="/x") == \
        [sys.executable, "/x/compute_fid.py", "--checkpoint-root", str(root), "--fake", "1", "--num", "500",
         "--weights", "/w/inception.h5"]


# --- desktop.progress: following a run through its events.jsonl --------------------------------

def test_step_record_is_progress():
    progress = progress_from_event(STEP)
    assert (progress.kind, progress.epoch, progress.last_epoch, progress.step, progress.steps, progress.eta) == \
        ("step", 3, 10, 120, 468, 95.0)
    assert progress.metrics == {"g_loss": 0.9, "d_loss": 1.2, "d_acc_real": 0.6, "d_acc_fake": 0.8}
    # 95 s for the 348 steps left: an epoch takes 468 * 95 / 348 s, and 7 epochs follow.
    assert total_eta(progress) == pytest.approx(95 + 7 * 468 * 95 / 348)
    assert fraction_done(progress) == pytest.approx((2 + 120 / 468) / 10)
    assert describe_progress(progress) == ("Epoch 3/10, step 120/468, about 16m 29s left.  "
                                           "g_loss 0.9000  d_loss 1.2000  d_acc_real 0.6000  d_acc_fake 0.8000")


def test_epoch_record_is_progress():
    progress = progress_from_event(EPOCH)
    assert (progress.kind, progress.epoch, progress.last_epoch, progress.seconds, progress.images_per_sec,
            progress.saved) == ("epoch", 3, 10, 300.0, 200.0, 3)
    assert progress.metrics == {"g_loss": 0.9, "d_loss": 1.2, "d_acc_real": 0.6, "d_acc_fake": 0.8}
    assert total_eta(progress) == 7 * 300
    assert fraction_done(progress) == pytest.approx(0.3)
    assert describe_progress(progress).startswith("Epoch 3/10 done in 5m 00s (200 img/s), saved checkpoint 3, "
                                                  "about 35m 00s left.")
    unsaved = progress_from_event(dict(EPOCH, saved=False, metrics=dict(METRICS, g_loss=None)))
    assert unsaved.saved is None and np.isnan(unsaved.metrics["g_loss"])


@pytest.mark.parametrize("record", [{"event": "start", "pid": 1, "command": ["x"]},
                                    {"event": "checkpoint", "epoch": 3, "prefix": "ckpt-3"},
                                    {"event": "step", "epoch": 3}, {"event": "epoch", "epoch": "three"}])
def test_other_records_are_not_progress(record):
    assert progress_from_event(record) is None


def test_the_tail_reads_only_this_runs_whole_records(tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_text(json.dumps(dict(STEP, epoch=1)) + "\n")  # an earlier run's
    tail = EventTail(tmp_path)
    assert tail.read() == []
    with open(log, "a") as f:
        f.write(json.dumps(STEP) + "\nnot json\n" + json.dumps(EPOCH)[:20])  # the last line still being written
    assert tail.read() == [STEP]
    with open(log, "a") as f:
        f.write(json.dumps(EPOCH)[20:] + "\n")
    assert tail.read() == [EPOCH] and tail.seen == [STEP, EPOCH]


def test_training_outcome_names_the_resume_command_after_a_stop():
    records = [EPOCH, {"event": "stop", "completed": 1, "saved": 1, "resume": "python DCGAN_train.py -r 1 2 5",
                       "signal": 15}]
    assert training_outcome(143, "ignored", records) == \
        "Stopped; the completed epochs are saved. To continue: python DCGAN_train.py -r 1 2 5"
    assert training_outcome(0, None, []) == "Training finished."
    assert training_outcome(2, "Bad value", []) == "Training failed: see the message."


# --- desktop.jobs: scripts in subprocesses -----------------------------------------------------

def test_a_scripts_own_error_message_is_extracted():
    result = run_script("generate_img.py", "1", "100", "0")  # refused before TensorFlow loads
    assert result.returncode == 2
    assert failure_message("generate_img.py", 2, result.stderr) == \
        "NUM (the number of images) must be at least 1, got 0."
    assert failure_message("generate_img.py", 0, "warning: something") is None


def test_a_crash_is_described_by_its_last_line():
    traceback = "Traceback (most recent call last):\n  File \"x.py\", line 1\nMemoryError: out of memory\n\n"
    assert failure_message("compute_fid.py", 1, traceback) == \
        "compute_fid.py failed (exit code 1): MemoryError: out of memory"
    assert failure_message("DCGAN_train.py", -9, "") == "DCGAN_train.py was ended by signal 9."


def test_fid_value_is_read_from_the_last_fid_line():
    assert parse_fid("Features: InceptionV3.\nReal: ...\nFID: 12.3\nKID: 0.01 ± 0.002\n") == 12.3
    assert parse_fid("Session 1, epoch 2: FID: 9\n") is None  # a --sessions table row is not this
    assert parse_fid("") is None


def test_script_job_hands_lines_and_exit_code_to_the_queue(tmp_path):
    script = tmp_path / "talk.py"
    script.write_text("import sys\nprint('one')\nprint('two')\nprint('error: no', file=sys.stderr)\nsys.exit(2)\n")
    events, lines, done = queue.Queue(), [], []
    job = ScriptJob([sys.executable, str(script)], events, lines.append, done.append)
    deadline = time.monotonic() + 60
    while not done and time.monotonic() < deadline:
        callback, value = events.get(timeout=60)
        callback(value)
    assert (lines, done, job.stderr, job.script) == (["one", "two"], [2], ["error: no\n"], "talk.py")


# --- desktop.images ----------------------------------------------------------------------------

def test_fit_image_enlarges_by_whole_factors_and_shrinks_smoothly():
    small = Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28))
    big = fit_image(small, (260, 200))
    assert big.size == (196, 196)  # 7x: the largest whole factor that fits 200
    assert np.array_equal(np.asarray(big)[::7, ::7], np.asarray(small))
    assert fit_image(Image.new("RGB", (1100, 400)), (600, 300)).size == (600, 218)


@pytest.mark.slow
def test_examples_of_a_session_are_its_images_as_the_network_sees_them(session):
    example_grid.cache_clear()
    grid = examples_for(session.cfg)
    files, _ = decode.scan_folder(session.cfg["data_dir"])
    assert len(files) == 8 and grid.shape == (2 * 30 + 2, 7 * 30 + 2, 1)  # 8 tiles of 28 in rows of 7, 2 px apart
    assert np.array_equal(grid[2:30, 2:30], decode.decode_image(files[0], 28, 1))
    assert np.array_equal(grid[32:60, 2:30], decode.decode_image(files[7], 28, 1))


def test_examples_of_a_browsed_folder_skip_broken_files(tmp_path):
    example_grid.cache_clear()
    Image.new("RGB", (80, 60), (200, 30, 10)).save(tmp_path / "red.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    grid = examples_for(data_folder=tmp_path)
    assert grid.shape == (68, 68, 3)  # one 64x64 RGB tile
    assert tuple(grid[30, 30]) == (200, 30, 10)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="No usable image"):
        examples_for(data_folder=empty)


def test_examples_of_an_idx_dataset_never_download(tmp_path, monkeypatch):
    example_grid.cache_clear()
    pixels = np.repeat(np.arange(30, dtype=np.uint8), 28 * 28).reshape(30, 28, 28)  # image i is all value i
    with gzip.open(tmp_path / idx.IDX_IMAGES, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 30, 28, 28) + pixels.tobytes())
    cfg = dict(config.load_config(), data_dir=str(tmp_path))
    grid = examples_for(cfg)
    assert grid.shape == (3 * 30 + 2, 7 * 30 + 2, 1)
    tiles = sorted({int(grid[2 + 30 * r, 2 + 30 * c, 0]) for r in range(3) for c in range(7)})
    assert len(tiles) == 21 and set(tiles) <= set(range(30))
    monkeypatch.setitem(idx.IDX_DIRS, "mnist", [])  # nothing on disk: an error, not a download
    with pytest.raises(UserError, match="Could not find the mnist files"):
        examples_for(dict(cfg, dataset="mnist", data_dir=None))


def test_examples_show_transparency_over_the_sessions_background(tmp_path):
    from PIL import Image
    pixels = np.zeros((32, 32, 4), np.uint8)
    pixels[..., 0] = 255  # red under fully transparent pixels
    Image.fromarray(pixels, "RGBA").save(tmp_path / "clear.png")
    cfg = dict(config.load_config(), dataset="folder", data_dir=str(tmp_path), image_size=32, channels=3)
    example_grid.cache_clear()
    for background, value in [("white", 255), ("black", 0)]:
        grid = examples_for(dict(cfg, background=background))
        np.testing.assert_array_equal(grid[2:34, 2:34], value)
