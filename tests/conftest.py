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


@pytest.fixture
def poisoned_tensorflow(tmp_path):
    """PYTHONPATH under which importing TensorFlow or Keras fails loudly."""
    for package in ("tensorflow", "keras"):
        (tmp_path / "poison" / package).mkdir(parents=True)
        (tmp_path / "poison" / package / "__init__.py").write_text(
            f"raise ImportError('{package} was imported before the arguments were checked')\n")
    return {"PYTHONPATH": str(tmp_path / "poison")}


def checkpoint_tensors(prefix):
    """{name: value} of every tensor in a checkpoint."""
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def assert_resume_is_bit_exact(tmp_path, *args):
    """Epochs 1..2 in one run == epoch 1, then -r 1 to 2: every checkpointed tensor, and the grid."""
    exact = [*TINY, *args, "--set", "deterministic=true"]
    for root, epochs in (("a", 2), ("b", 1)):
        result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / root, 1, epochs, *exact)
        assert result.returncode == 0, result.stdout + result.stderr
    resumed = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "b", "-r", 1, 1, 2)
    assert resumed.returncode == 0, resumed.stderr
    straight = checkpoint_tensors(tmp_path / "a" / "training_1" / "ckpt-2")
    split = checkpoint_tensors(tmp_path / "b" / "training_1" / "ckpt-2")
    assert straight.keys() == split.keys()
    for name in straight:
        assert np.array_equal(straight[name], split[name]), name
    grid = "training_1/images/epoch_0002.png"
    assert (tmp_path / "a" / grid).read_bytes() == (tmp_path / "b" / grid).read_bytes()
    return straight


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


# A fixture that trains a session or builds the Inception network takes seconds to minutes: its
# function is recorded here (not its name, which another module's fixture may reuse), and every test
# that uses it must carry the slow mark, which the collection hook below checks.
SLOW_FIXTURES = set()


def slow_fixture(**options):
    def define(function):
        SLOW_FIXTURES.add(function)
        return pytest.fixture(**options)(function)
    return define


@slow_fixture(scope="session")
def gray_session(tmp_path_factory):
    """(checkpoint root, session number): 28x28x1, trained 2 epochs on 8 images."""
    base = tmp_path_factory.mktemp("gray")
    data = make_image_folder(base / "images", mode="L")
    train_session(base / "ckpts", 1, 2, data, "--set", "channels=1")
    return base / "ckpts", 1


@slow_fixture(scope="session")
def rgb_session(tmp_path_factory):
    """(checkpoint root, session number): 32x32x3, trained 1 epoch on 8 images."""
    base = tmp_path_factory.mktemp("rgb")
    data = make_image_folder(base / "images", mode="RGB")
    train_session(base / "ckpts", 3, 1, data, "--set", "channels=3", "--set", "image_size=32")
    return base / "ckpts", 3


@slow_fixture(scope="session")
def conditional_session(tmp_path_factory):
    """(checkpoint root, session number): conditional, 28x28x1, trained 1 epoch on 16 images in
    Fashion-MNIST's IDX format, so its classes are Fashion-MNIST's ten, 'T-shirt/top' first."""
    base = tmp_path_factory.mktemp("conditional")
    rng = np.random.default_rng(0)
    write_idx(base / "idx", rng.integers(0, 256, (16, 28, 28), dtype=np.uint8), np.arange(16) % 10)
    train_session(base / "ckpts", 4, 1, base / "idx", "--set", "conditional=true")
    return base / "ckpts", 4


@slow_fixture(scope="session")
def extractor():
    """The standard FID network with seeded random weights at a 75x75 input: the real weights
    cannot be downloaded here, and the pipeline's plumbing does not need them."""
    from metrics import inception
    return inception.InceptionFeatures("random", 75, batch_size=16)


def pytest_collection_modifyitems(config, items):
    """Refuses a test that uses a slow fixture, directly or through another fixture, without being
    marked slow itself: the fast tier would quietly train sessions."""
    unmarked = sorted({f"{item.nodeid} (uses {name})" for item in items if not item.get_closest_marker("slow")
                       # _fixtureinfo holds the definitions a test resolves to, its fixtures' fixtures included.
                       for name, definitions in item._fixtureinfo.name2fixturedefs.items()
                       if definitions[-1].func in SLOW_FIXTURES})
    if unmarked:
        raise pytest.UsageError("These tests use a slow fixture and are not marked slow: "
                                + "; ".join(unmarked) + ". Mark them @pytest.mark.slow (or the module, pytestmark).")
