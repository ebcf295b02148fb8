"""A session is one trainer's; files honour the umask; no TensorFlow start-up lines."""
import csv
import os
import re
import stat
import subprocess
import sys
import time

import pytest

from conftest import REPO, TINY, make_image_folder, run_script
from training.events import read_events

pytestmark = pytest.mark.slow  # runs training processes side by side

STARTUP_NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d:)", re.M)


def start_training(root, *args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, str(REPO / "DCGAN_train.py"), "--checkpoint-root", str(root), *map(str, args),
                             *TINY], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})), **kwargs)


def wait_for_epoch(session, epoch, process, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _ = read_events(session / "events.jsonl")
        if any(r["event"] == "epoch" and r["epoch"] >= epoch for r in records):
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError(f"no epoch {epoch} within {timeout} s")


def test_a_second_trainer_is_refused_while_the_first_runs_and_a_killed_one_leaves_no_lock(tmp_path):
    data = make_image_folder(tmp_path / "images")
    root, session = tmp_path / "ck", tmp_path / "ck" / "training_1"
    first = start_training(root, 1, 400, "--data", data, "--set", "max_to_keep=null")  # no pruning under the readers
    try:
        wait_for_epoch(session, 2, first)
        # The second trainer resumes from a checkpoint the first has written, as the app's Resume would.
        newest = max(int(p.stem.split("-")[1]) for p in session.glob("ckpt-*.index"))
        for args in (["-r", newest, 1, 500], [1, 500, "--data", data]):
            second = run_script("DCGAN_train.py", "--checkpoint-root", root, *args, *TINY)
            assert second.returncode == 2, second.stdout + second.stderr
            assert f"process {first.pid} (" in second.stderr and "DCGAN_train.py" in second.stderr
            assert "Traceback" not in second.stderr
        # Readers keep working while the run holds the lock.
        generated = run_script("generate_img.py", "--checkpoint-root", root, 1, 100, 3, "--seed", 1,
                               "--out", tmp_path / "out", "--epoch", newest)
        assert generated.returncode == 0, generated.stderr
    finally:
        first.kill()  # SIGKILL: no chance to clean up
        first.wait()
    with open(session / "metrics.csv") as f:
        epochs = [row["epoch"] for row in csv.DictReader(f)]
    assert len(epochs) == len(set(epochs))  # one writer only
    newest = max(int(p.stem.split("-")[1]) for p in session.glob("ckpt-*.index"))
    resumed = run_script("DCGAN_train.py", "--checkpoint-root", root, "-r", newest, 1, newest + 1)
    assert resumed.returncode == 0, resumed.stderr  # the kernel released the killed run's lock


def test_every_file_of_a_session_honours_the_umask_and_no_startup_lines(tmp_path):
    data = make_image_folder(tmp_path / "images")
    root = tmp_path / "ck"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DCGAN_VERBOSE")}
    result = subprocess.run([sys.executable, str(REPO / "DCGAN_train.py"), "--checkpoint-root", str(root), "1", "2",
                             "--data", str(data), *TINY, "--set", "cache_dir=" + str(tmp_path / "cache")],
                            cwd=REPO, capture_output=True, text=True, env=env, preexec_fn=lambda: os.umask(0o027))
    assert result.returncode == 0, result.stderr
    assert not STARTUP_NOISE.search(result.stderr), result.stderr
    files = [p for p in list((root / "training_1").rglob("*")) + list((tmp_path / "cache").rglob("*")) if p.is_file()]
    names = {p.name for p in files}
    assert {"epoch_0001.png", "metrics.csv", "losses.png", "progress.gif", "events.jsonl", "config.yaml",
            "checkpoint"} <= names
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o640"}, modes


@pytest.mark.parametrize("verbose", [False, True])
def test_tensorflow_startup_lines_only_when_asked_for(tmp_path, verbose):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DCGAN_VERBOSE")}
    if verbose:
        env["DCGAN_VERBOSE"] = "1"
    # Past the argument checks, so TensorFlow loads; then refused because there is no session.
    result = subprocess.run([sys.executable, str(REPO / "compute_fid.py"), "--checkpoint-root", str(tmp_path),
                             "--weights", "random"], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 2 and "error: There are no sessions under" in result.stderr, result.stderr
    assert bool(STARTUP_NOISE.search(result.stderr)) == verbose, result.stderr
