"""generate_img.py --balance (classes topped up to NUM, real images counted) and --reject-copies
(near-copies of training images dropped), end to end on tiny sessions."""
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run_script, snapshot

pytestmark = pytest.mark.slow  # trains sessions and runs the (random-weights) Inception network

FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
# conftest's conditional session trains on 16 images labelled 0..9, 0..5: two of classes 0..5, one of 6..9.
STORED = dict(zip(FASHION, [2] * 6 + [1] * 4))
# Random weights at a small input keep the copy check fast; they are the standard network all the same.
SMALL_INCEPTION = ["--weights", "random", "--inception-size", "75"]


def copy_session(root, number, target):
    """A copy of a session (its checkpoint root), so a test may change its files."""
    shutil.copytree(root / f"training_{number}", target / f"training_{number}")
    return target


def set_config(root, number, **changes):
    path = root / f"training_{number}" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg.update(changes)
    path.write_text(yaml.safe_dump(cfg))


def files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*.png"))


def test_a_conditional_session_stores_its_training_images_per_class(conditional_session):
    from training import sessions
    root, number = conditional_session
    session = root / f"training_{number}"
    assert json.loads((session / sessions.CLASS_COUNTS_FILE).read_text()) == STORED
    assert list(json.loads((session / sessions.CLASS_COUNTS_FILE).read_text())) == FASHION  # label order
    assert sessions.read_class_counts(session, FASHION) == list(STORED.values())


def test_balance_tops_every_class_up_and_skips_a_class_already_at_num(conditional_session, tmp_path):
    root, number = conditional_session
    result = run_script("generate_img.py", "--checkpoint-root", root, number, 100, 2, "--balance", "--seed", 3,
                        "--out", tmp_path / "out", "--grid", tmp_path / "grid.png")
    assert result.returncode == 0, result.stdout + result.stderr
    # The plan comes first, a line per class: real, generated, total.
    plan = result.stdout.index("Balance plan")
    assert plan < result.stdout.index("Writing")
    rows = {" ".join(line.split()[:-3]): line.split()[-3:] for line in result.stdout[plan:].splitlines()[2:12]}
    assert list(rows) == FASHION
    assert rows["Trouser"] == ["2", "0", "2"] and rows["Ankle boot"] == ["1", "1", "2"]
    # Classes 6..9 had one training image: one generated each; classes 0..5 had two: none, no folder.
    assert files(tmp_path / "out") == [f"{name}/img_000001.png" for name in ("Ankle boot", "Bag", "Shirt", "Sneaker")]
    assert (tmp_path / "grid.png").is_file()


def test_counts_come_from_the_data_or_real_counts_and_are_refused_for_unknown_classes(conditional_session,
                                                                                       tmp_path):
    root, number = conditional_session
    root = copy_session(root, number, tmp_path / "ckpts")
    (root / f"training_{number}" / "class_counts.json").unlink()  # a session trained before counts were stored
    args = ["--checkpoint-root", root, number, 100, 2, "--balance", "--seed", 3, "--grid", tmp_path / "grid.png"]
    from_data = run_script("generate_img.py", *args, "--out", tmp_path / "from_data")
    assert from_data.returncode == 0, from_data.stderr
    assert files(tmp_path / "from_data") == [f"{n}/img_000001.png" for n in ("Ankle boot", "Bag", "Shirt", "Sneaker")]

    # Its data can no longer be read (the labels file is gone): a message that says what to pass.
    cfg = yaml.safe_load((root / f"training_{number}" / "config.yaml").read_text())
    images_only = tmp_path / "images_only"
    images_only.mkdir()
    shutil.copy(Path(cfg["data_dir"]) / "train-images-idx3-ubyte.gz", images_only)
    set_config(root, number, data_dir=str(images_only))
    before = snapshot(tmp_path)
    refused = run_script("generate_img.py", *args, "--out", tmp_path / "refused")
    assert refused.returncode == 2
    assert "--real-counts NAME=COUNT" in refused.stderr and "class_counts.json" in refused.stderr
    assert snapshot(tmp_path) == before

    # Counts for a class the session does not have: refused with its classes, nothing written.
    unknown = run_script("generate_img.py", *args, "--out", tmp_path / "refused", "--real-counts", "Hat=3")
    assert unknown.returncode == 2 and "no class 'Hat'" in unknown.stderr and "0 T-shirt/top" in unknown.stderr
    assert snapshot(tmp_path) == before

    # NAME=COUNT (a class's name, folder name or index) for every class; Trouser topped up from 0.
    given = [f"{name}=2" for name in ("T-shirt_top", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                      "9")] + ["Trouser=0"]
    counted = run_script("generate_img.py", *args, "--out", tmp_path / "given", "--real-counts", *given)
    assert counted.returncode == 0, counted.stderr
    assert files(tmp_path / "given") == ["Trouser/img_000001.png", "Trouser/img_000002.png"]


def test_balance_and_its_options_are_refused_before_tensorflow_loads(gray_session, conditional_session, tmp_path,
                                                                      poisoned_tensorflow):
    cases = [(gray_session, ["--balance"], "trained without classes"),
             (conditional_session, ["--real-counts", "1", "2"], "--real-counts only works with --balance"),
             (conditional_session, ["--balance", "--real-counts", "1", "2"], "got 2 counts, but session 4 has 10"),
             (conditional_session, ["--copy-percentile", "1"], "only works with --reject-copies"),
             (conditional_session, ["--reject-copies", "--copy-percentile", "100"], "below 100")]
    for (root, number), extra, message in cases:
        result = run_script("generate_img.py", "--checkpoint-root", root, number, 100, 4, "--out", tmp_path / "out",
                            *extra, env=poisoned_tensorflow, fresh_interpreter=True)
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr, (extra, result.stderr)
        assert "was imported" not in result.stderr
        assert not (tmp_path / "out").exists()


def test_reject_copies_drops_a_planted_copy_generates_on_and_repeats_with_the_seed(gray_session, tmp_path):
    root, number = gray_session
    root = copy_session(root, number, tmp_path / "ckpts")
    session = root / f"training_{number}"
    common = ["--checkpoint-root", root, number, 100, "--seed", 5, "--batch-size", 2]
    plain = run_script("generate_img.py", *common, 8, "--out", tmp_path / "plain", "--grid", tmp_path / "plain.png")
    assert plain.returncode == 0, plain.stderr
    generated = [(tmp_path / "plain" / f"img_{i:06d}.png").read_bytes() for i in range(1, 9)]

    # The training set gains an exact copy of the first image this seed generates, and 24 images of
    # another seed: a tiny generator draws much alike, so every image of seed 5 is close to the copy,
    # and only among images like its own does the relative rule tell the copy from the rest.
    data = tmp_path / "data"
    shutil.copytree(yaml.safe_load((session / "config.yaml").read_text())["data_dir"], data)
    shutil.copy(tmp_path / "plain" / "img_000001.png", data / "planted.png")
    like = run_script("generate_img.py", "--checkpoint-root", root, number, 100, 24, "--seed", 99,
                      "--out", data / "like", "--grid", tmp_path / "like.png")
    assert like.returncode == 0, like.stderr
    set_config(root, number, data_dir=str(data))

    runs = []
    for name in ("a", "b"):
        result = run_script("generate_img.py", *common, 3, "--reject-copies", *SMALL_INCEPTION,
                            "--out", tmp_path / name, "--grid", tmp_path / f"{name}.png")
        assert result.returncode == 0, result.stdout + result.stderr
        runs.append(result)
        written = [(tmp_path / name / f"img_{i:06d}.png").read_bytes() for i in range(1, 4)]
        assert files(tmp_path / name) == ["img_000001.png", "img_000002.png", "img_000003.png"]
        assert generated[0] not in written
        # What passed are this seed's images in their order, less those dropped.
        positions = [generated.index(image) for image in written]
        assert positions == sorted(positions) and positions[0] >= 1
        dropped, drawn = map(int, re.search(r"(\d+) of (\d+) generated images dropped", result.stdout).groups())
        assert dropped >= 1 and drawn >= positions[-1] + 1
        assert (tmp_path / f"{name}_rejected.png").is_file()
        assert str(tmp_path / f"{name}_rejected.png") in result.stdout
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert "from the cache" in runs[1].stdout  # the training set's features: computed once
