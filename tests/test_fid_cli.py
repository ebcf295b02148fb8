"""compute_fid.py's command line: numbers refused by argparse and the table of what its modes refuse,
both before TensorFlow loads; and the sides it compares, measured here by a stand-in for Inception.
"""
import re
import subprocess
import sys

import numpy as np
import pytest

import compute_fid
from conftest import REPO, make_image_folder
from metrics import fid, sides, sources
from utils.errors import UserError


def refused_by_argparse(capsys, args):
    """The last stderr line of parse_args(args), which must exit with status 2."""
    with pytest.raises(SystemExit) as exited:
        compute_fid.parse_args(args)
    assert exited.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("args, message", [
    (["--num", "1"], "argument --num: must be at least 2, got 1"),
    (["--num", "many"], "argument --num: must be a whole number, got 'many'"),
    (["--num-real", "-1"], "argument --num-real: must be at least 0, got -1"),
    (["--seed", "1.5"], "argument --seed: must be a whole number, got '1.5'"),
    (["--inception-size", "64"], "argument --inception-size: must be at least 75, got 64"),
    (["--image-size", "4"], "argument --image-size: must be at least 8, got 4"),
    (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["--copies", "0"], "argument --copies: must be at least 1, got 0"),
    (["--sessions", "1", "two"], "argument --sessions: must be a whole number, got 'two'"),
])
def test_bad_numbers_are_refused_by_argparse(capsys, args, message):
    assert refused_by_argparse(capsys, args).endswith(f"error: {message}")


def test_numbers_arrive_parsed_and_the_defaults_are_numbers():
    args = compute_fid.parse_args([])
    assert (args.num, args.num_real, args.seed, args.inception_size, args.batch_size) == (10000, 10000, 0, 299, 50)
    assert args.image_size is None and args.copies is None and args.fake is None and args.real is None
    args = compute_fid.parse_args(["--sessions", "3", "1", "--num", "8", "--copies", "2", "--image-size", "32"])
    assert (args.sessions, args.num, args.copies, args.image_size) == ([3, 1], 8, 2, 32)
    # A session number is a number; anything else is a folder, dataset or statistics file.
    assert compute_fid.parse_args(["--fake", "2", "--real", "data/x"]).fake == 2
    assert compute_fid.parse_args(["--fake", "data/2", "--real", "mnist"]).fake == "data/2"


# One command per row of compute_fid.refusals, in its order, each refused by that row first.
REFUSALS = [
    (["--copies", "20", "--num", "10"], "--copies 20 is more than --num 10"),
    (["--copies-grid", "g.png"], "pass --copies N too"),
    (["--sessions", "1", "--copies", "5", "--copies-grid", "g.png"], "each session's grid goes into its folder"),
    (["--per-class", "--real", "data"], "--per-class compares one session's images of each class"),
    (["--sessions", "1", "2", "--fake", "0"], "does not combine with --fake"),
    (["--table", "t"], "--table is for --sessions and --per-class"),
    (["--real", "3"], "--real 3: session numbers go to --fake"),
    (["--fake", "."], "--real is needed when --fake is not a session number"),
    (["--real", ".", "--fake", ".", "--copies", "2"], "needs --copies-grid FILE"),
]


def first_refusal(args):
    """The index of the first row of the refusal table that refuses args, or None."""
    rows = compute_fid.refusals(compute_fid.parse_args(args))
    return next((index for index, (refused, _) in enumerate(rows) if refused), None)


@pytest.mark.parametrize("args, message", REFUSALS)
def test_each_row_of_the_refusal_table_refuses(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # g.png and t are written next to nothing
    with pytest.raises(UserError, match=re.escape(message)):
        compute_fid.check_args(compute_fid.parse_args(args))


def test_every_row_of_the_refusal_table_has_its_command():
    rows = compute_fid.refusals(compute_fid.parse_args([]))
    assert first_refusal([]) is None, "the default command (newest session vs its data) is refused"
    assert [first_refusal(args) for args, _ in REFUSALS] == list(range(len(rows)))
    # Rows taking several options refuse each of them.
    for args in (["--sessions", "1", "--save-stats-real", "r.npz"], ["--sessions", "1", "--save-stats-fake", "f.npz"]):
        assert first_refusal(args) == 4
    for args in (["--per-class", "--sessions", "1"], ["--per-class", "--fake", "data"]):
        assert first_refusal(args) == 3
    for args in (["--sessions", "1", "--table", "t"], ["--per-class", "--table", "t"], ["--fake", "7", "--copies", "2"],
                 ["--real", "data", "--fake", "x.npz", "--copies", "2", "--copies-grid", "g.png"]):
        assert first_refusal(args) is None


@pytest.mark.parametrize("args, says", [
    (["--num", "1"], "compute_fid.py: error: argument --num: must be at least 2, got 1"),
    (["--per-class", "--real", "data"], "error: --per-class compares one session's images of each class"),
])
def test_refusals_come_before_tensorflow_loads(args, says):
    script = ("import sys, runpy\n"
              "sys.argv[0] = 'compute_fid.py'\n"
              "try:\n"
              "    runpy.run_path('compute_fid.py', run_name='__main__')\n"
              "finally:\n"
              "    print(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(says), result.stderr
    assert result.stdout.strip() == "[]", "TensorFlow was loaded before the arguments were refused"


# --- the sides --------------------------------------------------------------------------------------

class PixelFeatures:
    """A stand-in for Inception: an image's first four pixel values are its features."""
    identity = {"weights": "pixels"}
    batch_size = 4

    def statistics(self, batches, keep_features=False):
        pixels = np.concatenate([np.asarray(batch[:len(batch)]).reshape(len(batch), -1) for batch in batches])
        return fid.statistics(pixels[:, :4], keep_features)


def test_an_image_set_side_gives_its_images_only_when_asked(tmp_path):
    folder = make_image_folder(tmp_path / "images", count=5, size=(28, 28), mode="L")
    side = sides.named(str(folder), 28, 1, 0, cache_dir=None)
    assert side.label == f"folder {folder}"
    plain = side.compute(PixelFeatures(), False, None)
    assert (plain.stats.count, plain.origin, plain.images) == (5, "computed", None)
    with_images = side.compute(PixelFeatures(), True, 2)
    assert with_images.images.pixels.shape == (2, 28, 28, 1) and with_images.images.features.shape == (2, 4)


def test_a_statistics_file_side_holds_no_images(tmp_path):
    path = tmp_path / "real.npz"
    sources.save_stats(path, fid.statistics(np.arange(12.0).reshape(6, 2) ** 2), {"features": PixelFeatures.identity})
    side = sides.named(str(path), 28, 1, 0, cache_dir=None)
    measured = side.compute(PixelFeatures(), False, None)
    assert (side.label, measured.origin, measured.stats.count, measured.images) == (str(path), "statistics file", 6,
                                                                                   None)
    with pytest.raises(UserError, match="holds only statistics"):
        sides.named(str(path), 28, 1, 0, cache_dir=None, images_wanted=True)
    with pytest.raises(UserError, match="does not exist"):
        sides.named(str(tmp_path / "missing.npz"), 28, 1, 0, cache_dir=None)
