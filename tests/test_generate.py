"""generate_img.py: real runs of the script on the tiny trained sessions, in-process calls for the rest.

The sessions are copied first, because a run writes into its session folder (generated/, grid.png)
and the conftest sessions are shared with other test files.
"""
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_script, snapshot

SCRIPT = "generate_img.py"


def _names(first, last):
    return [f"img_{i:06d}.png" for i in range(first, last + 1)]


def _files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def _noise_dim(root, number):
    return yaml.safe_load((Path(root) / f"training_{number}" / "config.yaml").read_text())["noise_dim"]


@pytest.fixture(scope="module")
def sessions_copy(tmp_path_factory, gray_session, rgb_session):
    """{'gray': (root, number), 'rgb': (root, number)}: private copies of the conftest sessions."""
    base = tmp_path_factory.mktemp("generate")
    copies = {}
    for name, (root, number) in (("gray", gray_session), ("rgb", rgb_session)):
        shutil.copytree(root, base / name)
        copies[name] = (base / name, number)
    return copies


@pytest.fixture(scope="module")
def cli_runs(sessions_copy, tmp_path_factory):
    """The script's real runs, shared by the tests below (each costs a TensorFlow import).

    a: gray, newest epoch, seed 7, 5 images in batches of 2 -> augmented/sneaker, default grid
    b: as a with --epoch 2 spelled out -> augmented/bag, --grid elsewhere
    d: rgb with every default: no seed, session/generated, session/grid.png
    c (after a): gray epoch 1, seed 7 -> augmented/sneaker again, on top of a's files
    """
    base = tmp_path_factory.mktemp("runs")
    (groot, gnum), (rroot, rnum) = sessions_copy["gray"], sessions_copy["rgb"]
    gdim = _noise_dim(groot, gnum)
    common = ["--checkpoint-root", groot, gnum, gdim, 5, "--seed", 7, "--batch-size", 2]
    runs = {
        "a": [*common, "--out", base / "augmented" / "sneaker"],
        "b": [*common, "--epoch", 2, "--out", base / "augmented" / "bag", "--grid", base / "b_grid.png"],
        "d": ["--checkpoint-root", rroot, rnum, _noise_dim(rroot, rnum), 3],
        # On its own copy with every default, so any write of it would show.
        "wrong_dim": ["--checkpoint-root", shutil.copytree(groot, base / "wrong_dim"), gnum, 64, 4],
    }
    wrong_dim_before = snapshot(base / "wrong_dim")
    # Independent runs at once: most of each is TensorFlow's import.
    with ThreadPoolExecutor(len(runs)) as pool:
        results = dict(zip(runs, pool.map(lambda args: run_script(SCRIPT, *args), runs.values())))
    a_files = snapshot(base / "augmented" / "sneaker")
    results["wrong_dim_unchanged"] = snapshot(base / "wrong_dim") == wrong_dim_before
    results["c"] = run_script(SCRIPT, *common, "--epoch", 1, "--out", base / "augmented" / "sneaker")
    for name in "abcd":
        assert results[name].returncode == 0, f"run {name}: {results[name].stdout}{results[name].stderr}"
    return base, results, a_files


def _read(path):
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def test_gray_run_writes_grayscale_pngs_and_grid_beside_the_output(cli_runs, sessions_copy):
    base, results, a_files = cli_runs
    groot, gnum = sessions_copy["gray"]
    assert sorted(a_files) == _names(1, 5)
    pixels = []
    for name in _names(1, 5):
        mode, array = _read(base / "augmented" / "sneaker" / name)
        assert mode == "L" and array.shape == (28, 28) and array.dtype == np.uint8
        pixels.append(array)
    assert len({p.tobytes() for p in pixels}) == 5, "five latents should give five different images"
    assert np.ptp(np.stack(pixels)) > 0

    grid = groot / f"training_{gnum}" / "grid.png"
    out = results["a"].stdout
    assert str(grid) in out and "images written 5/5" in out and "seed 7" in out
    mode, array = _read(grid)
    # 5 tiles -> 3 columns x 2 rows of (28 + 2 pad), plus the outer pad, enlarged 2x.
    assert mode == "L" and array.shape == ((2 * 30 + 2) * 2, (3 * 30 + 2) * 2)
    assert not any(p.name == "grid.png" for p in (base / "augmented").rglob("*"))


def test_seed_gives_byte_identical_files_and_newest_epoch_is_default(cli_runs):
    base, results, a_files = cli_runs
    # a used the newest checkpoint, b named epoch 2 (the newest): same seed, same bytes.
    assert snapshot(base / "augmented" / "bag") == a_files
    assert "epoch 2" in results["a"].stdout
    assert (base / "b_grid.png").is_file() and str(base / "b_grid.png") in results["b"].stdout


def test_second_run_continues_numbering_and_epoch_selects_the_checkpoint(cli_runs):
    base, results, a_files = cli_runs
    folder = base / "augmented" / "sneaker"
    assert _files(folder) == _names(1, 10)
    assert {name: (folder / name).read_bytes() for name in a_files} == a_files, "earlier files changed"
    assert "numbering continues at img_000006.png" in results["c"].stdout
    assert "epoch 1" in results["c"].stdout
    # Same seed and batches as a, other checkpoint: the epoch-1 generator draws other images.
    for old, new in zip(_names(1, 5), _names(6, 10)):
        assert (folder / old).read_bytes() != (folder / new).read_bytes()


def test_rgb_run_with_defaults_prints_a_seed_that_repeats_it(cli_runs, sessions_copy, tmp_path, capsys):
    _, results, _ = cli_runs
    rroot, rnum = sessions_copy["rgb"]
    session = rroot / f"training_{rnum}"
    assert _files(session / "generated") == _names(1, 3)
    for name in _names(1, 3):
        mode, array = _read(session / "generated" / name)
        assert mode == "RGB" and array.shape == (32, 32, 3) and array.dtype == np.uint8
    mode, array = _read(session / "grid.png")  # beside generated/, not inside it
    # 3 tiles -> 2 x 2 of (32 + 2 pad), plus the outer pad, enlarged 2x.
    assert mode == "RGB" and array.shape == ((2 * 34 + 2) * 2, (2 * 34 + 2) * 2, 3)

    out = results["d"].stdout
    seed = int(out.split("repeat this run with --seed ")[1].split(")")[0])
    from generation import writer as generation
    from training import sessions, state as session_state
    state, epoch = session_state.load_session(rroot, rnum)
    generation.generate(state, 3, seed, tmp_path / "again", tmp_path / "grid.png", batch_size=256)
    assert snapshot(tmp_path / "again") == snapshot(session / "generated")


@pytest.fixture
def poisoned_tensorflow(tmp_path):
    """PYTHONPATH under which importing TensorFlow or Keras fails loudly."""
    for package in ("tensorflow", "keras"):
        (tmp_path / "poison" / package).mkdir(parents=True)
        (tmp_path / "poison" / package / "__init__.py").write_text(
            f"raise ImportError('{package} was imported before the arguments were checked')\n")
    return {"PYTHONPATH": str(tmp_path / "poison")}


def test_argument_mistakes_are_answered_before_tensorflow_loads(sessions_copy, tmp_path, poisoned_tensorflow):
    root, number = sessions_copy["gray"]
    before = snapshot(root)
    out = tmp_path / "out"
    cases = [
        ((number, "abc", 4), "NOISE_DIM"),
        (("two", 100, 4), "TRAINING"),
        ((number, 100, "many"), "NUM"),
        ((number, 100, 0), "NUM"),
        ((number, 100, 4, "--seed", -1), "--seed"),
        ((number, 100, 4, "--batch-size", 0), "--batch-size"),
        ((number, 100, 4, "--epoch", "last"), "--epoch"),
    ]
    for args, named in cases:
        result = run_script(SCRIPT, "--checkpoint-root", root, "--out", out, *args, env=poisoned_tensorflow)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and named in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert snapshot(root) == before and not out.exists()


def test_wrong_noise_dim_names_the_sessions_value_and_writes_nothing(cli_runs):
    _, results, _ = cli_runs
    result = results["wrong_dim"]
    assert result.returncode == 2
    # TensorFlow's own start-up lines may come first; the script's answer is the last line.
    assert result.stderr.splitlines()[-1].startswith("error: ") and "noise dimension 100, not 64" in result.stderr
    assert "Traceback" not in result.stderr
    assert results["wrong_dim_unchanged"]


def _main(argv):
    """The script's main() behind its real boundary (cli.run): returns the exit code."""
    from utils import cli
    import generate_img
    with pytest.raises(SystemExit) as exit_info:
        cli.run(lambda: generate_img.main([str(a) for a in argv]))
    return exit_info.value.code


def test_session_and_path_errors_exit_2_and_write_nothing(sessions_copy, tmp_path, capsys):
    root, number = tmp_path / "ckpts", sessions_copy["gray"][1]
    shutil.copytree(sessions_copy["gray"][0], root)
    # A session folder that was set up but never trained.
    (root / "training_4").mkdir()
    shutil.copy(root / f"training_{number}" / "config.yaml", root / "training_4")
    (tmp_path / "a_file").write_text("not a folder")
    before = snapshot(root)
    out = tmp_path / "out"
    cases = [
        ((9, 100, 4, "--out", out), "Session 9 does not exist"),
        ((4, 100, 4, "--out", out), "has no checkpoint yet"),
        ((number, 100, 4, "--epoch", 5, "--out", out), "Epochs with a checkpoint: 1, 2."),
        ((number, 100, 4, "--out", tmp_path / "a_file"), "is a file"),
        ((number, 100, 4, "--out", out, "--grid", out / "preview" / "grid.png"), "inside the output folder"),
        ((number, 100, 4, "--out", out, "--grid", tmp_path / "grid.jpg"), "must end in .png"),
    ]
    for args, message in cases:
        assert _main(["--checkpoint-root", root, *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, (args, err)
    assert snapshot(root) == before and not out.exists() and not (tmp_path / "grid.jpg").exists()


def test_ctrl_c_leaves_whole_files_and_exits_130(sessions_copy, tmp_path, monkeypatch, capsys):
    from training import sessions, state as session_state
    root, number = sessions_copy["gray"]
    real_load = session_state.load_session

    def load_with_interrupt(*args, **kwargs):
        state, epoch = real_load(*args, **kwargs)
        generator, calls = state.ema_generator, []

        def interrupted_on_third_call(*a, **k):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return generator(*a, **k)
        state.ema_generator = interrupted_on_third_call
        return state, epoch

    monkeypatch.setattr(session_state, "load_session", load_with_interrupt)
    out = tmp_path / "out"
    code = _main(["--checkpoint-root", root, number, 100, 10, "--batch-size", 2, "--seed", 1,
                  "--out", out, "--grid", tmp_path / "grid.png"])
    assert code == 130
    files = _files(out)
    written = int(capsys.readouterr().out.split("Interrupted: ")[1].split(" of 10")[0])
    # Whole files only, numbered without gaps, as many as reported; no preview from a cut run.
    assert files == _names(1, written) and written <= 4
    assert not (tmp_path / "grid.png").exists()


def test_terminal_gets_a_progress_bar(sessions_copy, tmp_path, monkeypatch, capsys):
    from generation import writer as generation
    from training import sessions, state as session_state
    state, _ = session_state.load_session(*sessions_copy["gray"])
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    result = generation.generate(state, 6, 3, tmp_path / "out", tmp_path / "grid.png", batch_size=4)
    assert result.written == 6 and not result.interrupted
    out = capsys.readouterr().out
    assert "6/6" in out and "images written" not in out  # the bar, not the plain lines


def test_augmented_folders_load_as_a_class_per_folder_dataset(cli_runs):
    """The README recipe: sessions generating into data/augmented/CLASS load with
    keras.utils.image_dataset_from_directory."""
    import keras
    base, _, _ = cli_runs
    dataset = keras.utils.image_dataset_from_directory(
        base / "augmented", image_size=(28, 28), color_mode="grayscale", batch_size=4, shuffle=False)
    assert dataset.class_names == ["bag", "sneaker"]
    labels = np.concatenate([y.numpy() for _, y in dataset])
    assert np.bincount(labels).tolist() == [5, 10]
    images = np.concatenate([x.numpy() for x, _ in dataset])
    assert images.shape == (15, 28, 28, 1)
