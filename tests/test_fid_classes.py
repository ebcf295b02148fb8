"""FID of a conditional session: overall with the classes in their training shares, and --per-class.

One tiny conditional session on a class folder of three classes of 1, 5 and 4 images (unequal, so
that class shares and per-class counts are visible in what is printed, and one class too small for
a FID of its own), trained one epoch with FID every epoch; seeded random InceptionV3 weights at a
75x75 input, as in test_fid.py.
"""
import csv
import re
import shutil

import numpy as np
import pytest
import yaml

import compute_fid
from conftest import TINY as TRAIN_TINY
from conftest import make_image_folder, printed_value, run_script, slow_fixture, snapshot
from utils.errors import UserError

TINY = ["--weights", "random", "--inception-size", "75", "--batch-size", "16"]
CLASSES = {"ant": 1, "bee": 5, "cow": 4}


def pet_folder(folder):
    for seed, (name, count) in enumerate(CLASSES.items()):
        make_image_folder(folder / name, count=count, seed=seed)
    return folder


@slow_fixture(scope="module")
def pets_session(tmp_path_factory):
    """(checkpoint root, session number 1, its data folder)."""
    base = tmp_path_factory.mktemp("pets")
    data = pet_folder(base / "pets")
    trained = run_script("DCGAN_train.py", "--checkpoint-root", base / "ck", 1, 1, "--data", data, *TRAIN_TINY,
                         "--set", "conditional=true", "--set", "fid_every=1", "--set", "fid_num=8",
                         "--set", "fid_weights=random")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    return base / "ck", 1, data


def run_main(capsys, extractor, *args):
    assert compute_fid.main([*map(str, args), *TINY], extractor=extractor) == 0
    return capsys.readouterr()


# --- the classes generated images get -------------------------------------------------------------

def test_generated_labels_take_the_training_shares_exactly_in_a_seeded_order():
    from metrics import classes
    labels = np.repeat([0, 1, 2], [3, 5, 4])
    assert np.bincount(classes.generated_labels(labels, 3, 12, seed=0)).tolist() == [3, 5, 4]
    # 7 * (3, 5, 4) / 12 = (1.75, 2.92, 2.33): floors (1, 2, 2), the two left over to the largest remainders.
    assert np.bincount(classes.generated_labels(labels, 3, 7, seed=0)).tolist() == [2, 3, 2]
    # A class without training images is never asked for, however the remainders fall.
    assert np.bincount(classes.generated_labels(np.array([0, 2, 2]), 3, 5, seed=0), minlength=3).tolist() == [2, 0, 3]
    first, again, other = (classes.generated_labels(labels, 3, 12, seed) for seed in (1, 1, 2))
    assert first.dtype == np.int32 and (first == again).all() and not (first == other).all()
    assert not (first == np.sort(first)).all()  # shuffled: the first images are not all of class 0


def test_the_real_cache_key_names_the_class_and_a_holdout(tmp_path):
    from metrics import sources
    data = pet_folder(tmp_path / "pets")
    cfg = {"dataset": "folder", "data_dir": str(data), "max_images": 0, "seed": 0, "image_size": 28, "channels": 1,
           "holdout": 0.0, "class_names": list(CLASSES), "background": "white"}
    whole = sources.training_source(cfg).key
    assert "class" not in whole and "holdout" not in whole  # keys written before classes existed stay valid
    assert sources.training_source(cfg, class_index=1).key == dict(whole, **{"class": [1, "bee"]})
    assert sources.training_source(dict(cfg, holdout=0.25)).key == dict(whole, holdout=0.25)


# --- a conditional session end to end ------------------------------------------------------------

@pytest.mark.slow
def test_training_scores_fid_of_a_conditional_session(pets_session):
    root, number, _ = pets_session
    with open(root / f"training_{number}" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["fid"]) > 0


@pytest.mark.slow
def test_overall_fid_with_prdc_and_copies_of_a_conditional_session(pets_session, tmp_path, capsys, extractor):
    root, number, _ = pets_session
    out = run_main(capsys, extractor, "--checkpoint-root", root, "--num", 12, "--prdc", "--copies", 4,
                   "--cache-dir", tmp_path / "cache").out
    assert f"session {number} at epoch 1 (seed 0, classes in the training set's proportions)" in out
    assert "10 images" in out and "12 images" in out and printed_value(out) > 0
    assert all(0 <= printed_value(out, name) for name in ("precision", "recall", "density", "coverage", "copies"))
    assert (root / f"training_{number}" / "copies.png").is_file()
    sessions = run_main(capsys, extractor, "--sessions", number, "--checkpoint-root", root, "--num", 12,
                        "--cache-dir", tmp_path / "cache", "--table", tmp_path / "t").out
    assert re.search(rf"^Session {number}, epoch 1: FID: {printed_value(out):.6g}$", sessions, re.M), sessions


@pytest.mark.slow
def test_per_class_prints_each_class_and_writes_the_table(pets_session, tmp_path, capsys, extractor):
    from metrics import classes, fid, sources
    from training import state as session_state
    root, number, _ = pets_session
    session = root / f"training_{number}"
    printed = run_main(capsys, extractor, "--checkpoint-root", root, "--num", 6, "--num-real", 0, "--per-class",
                       "--cache-dir", tmp_path / "cache")
    lines = re.findall(r"^class (\w+): (no FID|FID \S+)  \((\d+) real, (\d+) generated\)$", printed.out, re.M)
    assert [(name, shown == "no FID", int(real), int(made)) for name, shown, real, made in lines] == \
        [("ant", True, 1, 0), ("bee", False, 5, 6), ("cow", False, 4, 6)], printed.out
    assert "classes with fewer than 2 training images have no FID: ant (1)" in printed.err
    assert "Per-class FID's smallest set, the real images of class cow, has 4 images" in printed.err
    with open(session / "fid_per_class.csv") as f:
        table = list(csv.reader(f))
    assert table == [["index", "class", "real", "generated", "FID"], ["0", "ant", "1", "0", ""],
                     ["1", "bee", "5", "6", lines[1][1][4:]], ["2", "cow", "4", "6", lines[2][1][4:]],
                     ["", "overall", "10", "6", f"{printed_value(printed.out):.6g}"]]
    assert (session / "fid_per_class.md").read_text().splitlines()[2:4] == [
        "| 0 | ant | 1 | 0 |  |", f"| 1 | bee | 5 | 6 | {lines[1][1][4:]} |"]

    # A class's FID is its training images against images generated with its label.
    state, _ = session_state.load_session(root, number)
    loaded = classes.training_set(state.cfg)
    real = extractor.statistics([loaded.images[np.flatnonzero(loaded.labels == 1)]])
    fake = sources.generator_stats(state.ema_generator, state.cfg, 6, extractor, 0, labels=np.full(6, 1, np.int32))
    assert float(lines[1][1][4:]) == pytest.approx(fid.fid_of_stats(real, fake), rel=1e-4)

    # The whole set and each class measured have their own cache entry: none is read back as another.
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1 + 2


@pytest.mark.parametrize("args", [["--real", "data"], ["--fake", "some/folder"], ["--sessions", "1", "2"]])
def test_per_class_is_refused_without_a_session_on_both_sides(args, tmp_path):
    with pytest.raises(UserError, match="--per-class compares one session's images of each class"):
        compute_fid.main([*args, "--per-class", "--checkpoint-root", str(tmp_path)])


@pytest.mark.slow
def test_per_class_refusals_name_the_fix_and_leave_the_sessions_as_they_were(pets_session, gray_session, tmp_path,
                                                                            extractor):
    root, number, data = pets_session
    gray_root, gray_number = gray_session
    before = snapshot(gray_root)
    with pytest.raises(UserError, match=f"needs a conditional session, and session {gray_number} was trained "
                                        "without classes. Drop --per-class"):
        compute_fid.main(["--checkpoint-root", str(gray_root), "--per-class", *TINY], extractor=extractor)
    assert snapshot(gray_root) == before
    # The session's data gained a class after training: its labels would name other classes.
    shutil.copytree(root, tmp_path / "ck")
    shutil.copytree(data, tmp_path / "pets")
    make_image_folder(tmp_path / "pets" / "owl", count=2)
    config = tmp_path / "ck" / f"training_{number}" / "config.yaml"
    config.write_text(yaml.safe_dump(dict(yaml.safe_load(config.read_text()), data_dir=str(tmp_path / "pets"))))
    before = snapshot(tmp_path / "ck")
    with pytest.raises(UserError, match=r"trained on the classes \['ant', 'bee', 'cow'\].*now has the classes "
                                        r"\['ant', 'bee', 'cow', 'owl'\]"):
        compute_fid.main(["--checkpoint-root", str(tmp_path / "ck"), *TINY], extractor=extractor)
    assert snapshot(tmp_path / "ck") == before


def test_a_per_class_refusal_is_one_paragraph_on_stderr(tmp_path):
    result = run_script("compute_fid.py", "--per-class", "--real", tmp_path, "--checkpoint-root", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["error: --per-class compares one session's images of each class with its "
                                          "own training images of that class: pass the session as --fake N (or "
                                          "nothing, for the newest), without --real or --sessions."]
