"""Shared fixtures: tiny configs, image folders and trained sessions, all in temporary folders."""
import gzip
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Decoded images and FID statistics of the tests' temporary folders are cached outside the repo;
# set before any project module is imported, and inherited by the scripts the tests start.
os.environ.setdefault("DCGAN_CACHE_DIR", tempfile.mkdtemp(prefix="dcgan-test-cache-"))
# Set before NumPy loads OpenBLAS. With two test workers on two cores, each process's two OpenBLAS
# threads wait on each other: FID's eigendecompositions of 2048x2048 covariances took 36 s instead
# of 3 s each, which decides nothing about whether a command works.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import script_processes  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# A network small enough to train a few steps in seconds on two cores. float32 whatever the CPU, so
# that tests comparing weights across devices or runs hold the same tolerances on every machine.
TINY = ["--set", "g_filters=8", "--set", "d_filters=8", "--set", "batch_size=4", "--set", "num_examples=9",
        "--set", "precision=float32"]


def run_script(script, *args, cwd=None, timeout=300, env=None, fresh_interpreter=False):
    """Run one of the project's scripts as a user would, in its own process; returns the
    CompletedProcess. The process is forked from one that has imported TensorFlow already
    (tests/script_processes.py) unless the test is about a fresh interpreter's start-up."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    if fresh_interpreter:
        return subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd or REPO,
                              capture_output=True, text=True, timeout=timeout, env=env)
    return script_processes.run(REPO / script, list(map(str, args)), cwd or REPO, env, timeout)


def printed_value(text, name="FID"):
    """The number of compute_fid.py's line 'NAME: value' (a --sessions row, 'Session 1, ...: FID: v', is
    not one)."""
    match = re.search(rf"^{re.escape(name)}: (\S+)$", text, re.M)
    assert match, text
    return float(match.group(1))


def make_image_folder(folder, count=8, size=(40, 36), mode="RGB", seed=0):
    """A folder of small random-ish images of one mode, as PNG and JPEG."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)
        image.save(folder / f"img_{i:03d}.{'png' if i % 2 or mode == 'RGBA' else 'jpg'}")
    return folder


def write_idx(folder, images, labels):
    """Fashion-MNIST's training files (IDX, gzipped): (N, 28, 28) uint8 images and their (N,) labels."""
    folder.mkdir(parents=True)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes())
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def snapshot(folder):
    """{relative path: bytes} of every file below folder: compare to prove nothing changed."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def train_session(root, number, epochs, data, *extra):
    result = run_script("DCGAN_train.py", "--checkpoint-root", root, number, epochs, "--data", data, *TINY, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def gray_session(tmp_path_factory):
    """(checkpoint root, session number): 28x28x1, trained 2 epochs on 8 images."""
    base = tmp_path_factory.mktemp("gray")
    data = make_image_folder(base / "images", mode="L")
    train_session(base / "ckpts", 1, 2, data, "--set", "channels=1")
    return base / "ckpts", 1


@pytest.fixture(scope="session")
def rgb_session(tmp_path_factory):
    """(checkpoint root, session number): 32x32x3, trained 1 epoch on 8 images."""
    base = tmp_path_factory.mktemp("rgb")
    data = make_image_folder(base / "images", mode="RGB")
    train_session(base / "ckpts", 3, 1, data, "--set", "channels=3", "--set", "image_size=32")
    return base / "ckpts", 3


@pytest.fixture(scope="session")
def conditional_session(tmp_path_factory):
    """(checkpoint root, session number): conditional, 28x28x1, trained 1 epoch on 16 images in
    Fashion-MNIST's IDX format, so its classes are Fashion-MNIST's ten, 'T-shirt/top' first."""
    base = tmp_path_factory.mktemp("conditional")
    rng = np.random.default_rng(0)
    write_idx(base / "idx", rng.integers(0, 256, (16, 28, 28), dtype=np.uint8), np.arange(16) % 10)
    train_session(base / "ckpts", 4, 1, base / "idx", "--set", "conditional=true")
    return base / "ckpts", 4


# The fast tier (make test-fast) leaves out whole training runs and subprocess faults: modules
# that train or kill real sessions, and any test that needs a trained session fixture or the
# InceptionV3 extractor (its build and each FID's 2048-d eigendecompositions take seconds apiece).
SLOW_MODULES = {"test_train", "test_faults", "test_scale", "test_generate", "test_fid", "test_app_gui", "test_bench",
                "test_readme", "test_lock", "test_evaluate", "test_training_features", "test_script_processes"}
SLOW_FIXTURES = {"gray_session", "rgb_session", "conditional_session", "pets_session", "trained", "session", "root",
                 "extractor"}


@pytest.fixture(scope="session")
def extractor():
    """The standard FID network with seeded random weights at a 75x75 input: the real weights
    cannot be downloaded here, and the pipeline's plumbing does not need them."""
    from metrics import inception
    return inception.InceptionFeatures("random", 75, batch_size=16)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
