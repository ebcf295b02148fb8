"""generate_img.py: real runs of the script on the tiny trained sessions, in-process calls for the rest.

The sessions are copied first, because a run writes into its session folder (generated/, grid.png)
and the conftest sessions are shared with other test files.
"""
import contextlib
import io
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_script, snapshot

pytestmark = pytest.mark.slow  # trains sessions and runs generate_img.py on them

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
        result = run_script(SCRIPT, "--checkpoint-root", root, "--out", out, *args, env=poisoned_tensorflow,
                            fresh_interpreter=True)
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


def interrupt_on_third_generator_call(monkeypatch):
    """Loaded sessions' averaged generators raise KeyboardInterrupt (Ctrl-C) on their third call."""
    from training import state as session_state
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


def test_ctrl_c_leaves_whole_files_and_exits_130(sessions_copy, tmp_path, monkeypatch, capsys):
    root, number = sessions_copy["gray"]
    interrupt_on_third_generator_call(monkeypatch)
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


# --- Conditional sessions: a folder per class ------------------------------------------------------

FASHION_FOLDERS = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


@pytest.fixture(scope="module")
def class_runs(conditional_session, tmp_path_factory):
    """Runs on the conditional session, 3 images a class, seed 5, batches of 2; all and picked are the
    script's real runs (at once), again and more its main() in this process, after them:

    all: every class -> all/<class>/, grid all.png;  again: the same -> again/
    picked: --class by name, by index and by folder name -> picked/, grid picked.png
    more: --class Bag with seed 6 -> picked/ again, on top of picked's files
    """
    base = tmp_path_factory.mktemp("class_runs")
    root, number = conditional_session
    common = ["--checkpoint-root", root, number, 100, 3, "--seed", 5, "--batch-size", 2]
    runs = {
        "all": [*common, "--out", base / "all", "--grid", base / "all.png"],
        "picked": [*common, "--out", base / "picked", "--grid", base / "picked.png",
                   "--class", "Sneaker", "--class", 8, "--class", "T-shirt_top", "--class", "Bag"],
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        results = dict(zip(runs, pool.map(lambda args: run_script(SCRIPT, *args), runs.values())))
    for name, result in results.items():
        assert result.returncode == 0, f"run {name}: {result.stdout}{result.stderr}"
    picked_files = snapshot(base / "picked")
    for name, args in (("again", [*common, "--out", base / "again", "--grid", base / "again.png"]),
                       ("more", ["--checkpoint-root", root, number, 100, 3, "--seed", 6, "--class", "Bag",
                                 "--out", base / "picked", "--grid", base / "more.png"])):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert _main(args) == 0, name
        results[name] = printed.getvalue()
    return base, results, picked_files


def test_a_conditional_run_writes_num_images_of_each_class_into_its_folder(class_runs):
    import keras
    from generation.classes import class_folders
    from data.idx import FASHION_MNIST_CLASSES
    base, results, _ = class_runs
    assert class_folders(FASHION_MNIST_CLASSES) == FASHION_FOLDERS
    assert sorted(p.name for p in (base / "all").iterdir()) == sorted(FASHION_FOLDERS)
    for folder in FASHION_FOLDERS:
        assert _files(base / "all" / folder) == _names(1, 3)
    # Keras sorts the folders by name, which is not Fashion-MNIST's label order ...
    dataset = keras.utils.image_dataset_from_directory(
        base / "all", image_size=(28, 28), color_mode="grayscale", batch_size=8, shuffle=False)
    assert dataset.class_names == sorted(FASHION_FOLDERS)
    labels = np.concatenate([y.numpy() for _, y in dataset])
    assert np.bincount(labels).tolist() == [3] * 10
    # ... and the session's class_names in folder form, passed as class_names, give the label order.
    ordered = keras.utils.image_dataset_from_directory(
        base / "all", image_size=(28, 28), color_mode="grayscale", batch_size=8, shuffle=False,
        class_names=FASHION_FOLDERS)
    assert ordered.class_names == FASHION_FOLDERS
    labels = np.concatenate([y.numpy() for _, y in ordered])
    assert labels.tolist() == [label for label in range(10) for _ in range(3)]
    by_label = np.concatenate([x.numpy() for x, _ in ordered])[..., 0].astype(np.uint8)
    assert np.array_equal(by_label[3 * 8 + 1], _read(base / "all" / "Bag" / "img_000002.png")[1])
    out = results["all"].stdout
    assert "Writing 3 images of T-shirt/top to" in out and "a folder per class" in out


def test_the_same_seed_rewrites_every_class_byte_identically_and_classes_differ(class_runs):
    base, _, _ = class_runs
    files = snapshot(base / "all")
    assert snapshot(base / "again") == files and len(files) == 30
    assert files["Bag/img_000001.png"] != files["Sneaker/img_000001.png"]


def test_class_picks_by_name_index_and_folder_name_write_those_classes_files(class_runs):
    base, results, picked_files = class_runs
    everything = snapshot(base / "all")
    # Each class once, in label order; a class's files do not depend on which others are picked.
    assert sorted({name.split("/")[0] for name in picked_files}) == ["Bag", "Sneaker", "T-shirt_top"]
    assert picked_files == {name: everything[name] for name in picked_files}
    out = results["picked"].stdout
    assert out.index("of T-shirt/top") < out.index("of Sneaker") < out.index("of Bag")


def test_numbering_continues_per_class_folder(class_runs):
    base, results, picked_files = class_runs
    assert _files(base / "picked" / "Bag") == _names(1, 6)
    assert _files(base / "picked" / "Sneaker") == _names(1, 3)
    now = snapshot(base / "picked")
    assert {name: now[name] for name in picked_files} == picked_files, "earlier files changed"
    assert "numbering continues at img_000004.png" in results["more"]


def test_the_preview_grid_has_a_named_row_per_class_in_label_order(class_runs):
    base, _, _ = class_runs
    mode, grid = _read(base / "all.png")
    # Ten rows of (28 + 2 pad) enlarged 2x, plus the outer pad; three columns plus the name margin.
    assert mode == "L" and grid.shape[0] == 10 * 30 * 2 + 4
    margin = grid.shape[1] - (3 * 30 * 2 + 4)
    assert margin > 40
    for row, folder in enumerate(FASHION_FOLDERS):
        for column in range(3):
            top, left = 4 + row * 60, margin + 4 + column * 60
            tile = _read(base / "all" / folder / f"img_{column + 1:06d}.png")[1].repeat(2, 0).repeat(2, 1)
            assert np.array_equal(grid[top:top + 56, left:left + 56], tile), (folder, column)
    assert _read(base / "picked.png")[1].shape[0] == 3 * 30 * 2 + 4  # the three picked classes


def test_an_unknown_class_is_refused_with_the_list_before_tensorflow_loads(conditional_session, tmp_path,
                                                                            poisoned_tensorflow):
    root, number = conditional_session
    before = snapshot(root)
    for wanted in ("Shoe", "10"):
        result = run_script(SCRIPT, "--checkpoint-root", root, number, 100, 3, "--class", "Bag", "--class", wanted,
                            "--out", tmp_path / "out", env=poisoned_tensorflow, fresh_interpreter=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"error: Session {number} has no class '{wanted}'. Its classes, by index: "
                                        "0 T-shirt/top, 1 Trouser, 2 Pullover,")
        assert "9 Ankle boot. Pick one of these names or indices with --class." in result.stderr
    assert snapshot(root) == before and not (tmp_path / "out").exists()


def test_class_on_an_unconditional_session_is_refused(sessions_copy, tmp_path, poisoned_tensorflow):
    root, number = sessions_copy["gray"]
    before = snapshot(root)
    result = run_script(SCRIPT, "--checkpoint-root", root, number, 100, 3, "--class", "0", "--out", tmp_path / "out",
                        env=poisoned_tensorflow, fresh_interpreter=True)
    assert result.returncode == 2 and "trained without classes" in result.stderr and "leave it out" in result.stderr
    assert snapshot(root) == before and not (tmp_path / "out").exists()


def test_a_file_where_a_class_folder_goes_is_refused_before_any_class_is_written(conditional_session, tmp_path,
                                                                                  capsys):
    root, number = conditional_session
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "Bag").write_text("not a folder")
    before = snapshot(root)
    assert _main(["--checkpoint-root", root, number, 100, 2, "--out", tmp_path / "out",
                  "--grid", tmp_path / "grid.png"]) == 2
    assert "out/Bag is a file" in capsys.readouterr().err
    assert _files(tmp_path / "out") == ["Bag"] and not (tmp_path / "grid.png").exists()
    assert snapshot(root) == before


def test_ctrl_c_in_a_class_keeps_the_classes_before_it_and_exits_130(conditional_session, tmp_path, monkeypatch,
                                                                     capsys):
    root, number = conditional_session
    interrupt_on_third_generator_call(monkeypatch)
    out = tmp_path / "out"
    # Two images a class in one batch: the third generator call is the third class's.
    assert _main(["--checkpoint-root", root, number, 100, 2, "--seed", 1, "--out", out,
                  "--grid", tmp_path / "grid.png"]) == 130
    assert _files(out / "T-shirt_top") == _names(1, 2) and _files(out / "Trouser") == _names(1, 2)
    assert _files(out / "Pullover") == [] and not (out / "Dress").exists()
    assert "(the classes before it are complete: T-shirt/top, Trouser)" in capsys.readouterr().out
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("names, message", [
    (["a/b", "a_b"], "'a/b' and 'a_b' would both be written to the folder a_b"),
    (["Cat", "cat"], "'Cat' and 'cat' would both be written to the folder cat"),
])
def test_class_names_that_would_share_a_folder_are_refused(names, message):
    from generation.classes import class_folders
    from utils.errors import UserError
    with pytest.raises(UserError, match=message):
        class_folders(names, 4)
    assert class_folders(["a/b", "c\\d", ".e", "f"], 4) == ["a_b", "c_d", "_e", "f"]
