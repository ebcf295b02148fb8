"""Before synthetic images go into a training set: compute_fid.py --prdc and --copies end to end.

Seeded random InceptionV3 weights at a 75x75 input, shared by the tests, as in test_fid.py: the
numbers check the plumbing (which images meet which features, what is printed and written), and
the cases are built so that the answer does not depend on the network: a set against itself, and
exact copies of training files beside images far from all of them.
"""
import csv
import re
import shutil

import numpy as np
import pytest
from PIL import Image

import compute_fid
from conftest import make_image_folder, printed_value, run_script
from utils.errors import UserError

TINY = ["--weights", "random", "--inception-size", "75", "--batch-size", "16"]


def run_main(capsys, extractor, *args):
    assert compute_fid.main([*map(str, args), *TINY], extractor=extractor) == 0
    return capsys.readouterr().out


def binary_noise(folder, count, seed):
    """count 32x32 images of pixels 0 or 255: in pixels and in features far from any image of
    make_image_folder's uniform noise (about 8000 against its spacing of about 5500 in pixels)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(np.where(rng.random((32, 32, 3)) < 0.5, 0, 255).astype(np.uint8)).save(folder / f"other_{i}.png")


# --- --prdc -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_prdc_of_a_folder_against_itself(tmp_path, capsys, extractor):
    folder = make_image_folder(tmp_path / "images", count=8)
    out = run_main(capsys, extractor, "--real", folder, "--fake", folder, "--image-size", 32, "--prdc",
                   "--no-cache")
    lines = [line.split(":")[0] for line in out.splitlines()]
    assert lines[-5:] == ["FID", "precision", "recall", "density", "coverage"]
    # Every point is the centre of a ball of the other set: precision, recall and coverage are 1.
    assert [printed_value(out, name) for name in ("precision", "recall", "coverage")] == [1.0, 1.0, 1.0]
    # Each ball holds its centre and the k-1 points nearer than its k-th: density k / k = 1 (the
    # copy of the k-th lies exactly on the edge, outside, as both sides' distances are computed alike).
    assert printed_value(out, "density") == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow
def test_prdc_refuses_statistics_without_features_and_too_few_images(tmp_path, extractor):
    folder = make_image_folder(tmp_path / "images", count=5)
    np.savez(tmp_path / "stats.npz", mu=np.zeros(3), sigma=np.eye(3), count=np.int64(10))
    with pytest.raises(UserError, match="--kid and --prdc need feature vectors.*only mean and covariance"):
        compute_fid.main(["--real", str(tmp_path / "stats.npz"), "--fake", str(folder), "--prdc", *TINY],
                         extractor=extractor)
    with pytest.raises(UserError, match="--prdc cannot use these sets: real has 5 points.*more images"):
        compute_fid.main(["--real", str(folder), "--fake", str(folder), "--prdc", "--no-cache", *TINY],
                         extractor=extractor)


# --- --copies -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_copies_of_training_files_are_flagged_and_shown_first(tmp_path, capsys, extractor):
    real = make_image_folder(tmp_path / "real", count=12, seed=0)
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in ("img_001.png", "img_004.jpg", "img_007.png", "img_010.jpg"):  # 4 copies, PNG and JPEG
        shutil.copy(real / name, fake / name)
    binary_noise(fake, 3, seed=1)
    grid = tmp_path / "pairs.png"
    out = run_main(capsys, extractor, "--real", real, "--fake", fake, "--image-size", 32, "--copies", 7,
                   "--copies-grid", grid, "--no-cache")
    assert "Copy check: 7 generated images against 12 real ones." in out
    assert printed_value(out, "copies") == pytest.approx(4 / 7, abs=1e-6)
    assert printed_value(out, "copies_pixels") == pytest.approx(4 / 7, abs=1e-6)
    # 7 pairs in rows of 4; a pair is 1 + 32 + 1 + 32 + 1 wide and 1 + 32 + 1 high, pairs 3 apart,
    # all scaled 2x so that 32x32 images can be seen.
    pixels = np.asarray(Image.open(grid))
    assert pixels.shape == (2 * (2 * (34 + 3) + 3), 2 * (4 * (67 + 3) + 3), 3)
    first_fake, first_real = pixels[8:72, 8:72], pixels[8:72, 74:138]  # the closest pair: a copy
    assert (first_fake == first_real).all()
    last_fake, last_real = pixels[82:146, 288:352], pixels[82:146, 354:418]  # the farthest: binary noise
    assert set(np.unique(last_fake)) <= {0, 255} and not (last_fake == last_real).all()


@pytest.mark.slow
def test_copies_of_a_session_go_into_its_folder(gray_session, tmp_path, capsys, extractor):
    root, number = gray_session
    shutil.copytree(root / f"training_{number}", tmp_path / f"training_{number}")
    out = run_main(capsys, extractor, "--checkpoint-root", tmp_path, "--fake", number, "--num", 8, "--copies", 5,
                   "--cache-dir", tmp_path / "cache")
    assert "Copy check: 5 generated images against 8 real ones." in out
    assert 0 <= printed_value(out, "copies") <= 1 and 0 <= printed_value(out, "copies_pixels") <= 1  # 28x28: pixels too
    # 5 pairs of 28x28 gray images in rows of 4, pairs 59 x 30, scaled 2x.
    grid = Image.open(tmp_path / f"training_{number}" / "copies.png")
    assert (grid.mode, grid.size) == ("L", (2 * (4 * (59 + 3) + 3), 2 * (2 * (30 + 3) + 3)))


@pytest.mark.slow
def test_sessions_table_gains_prdc_and_copies_columns(gray_session, tmp_path, capsys, extractor):
    root, number = gray_session
    for copy in (1, 2):
        shutil.copytree(root / f"training_{number}", tmp_path / f"training_{copy}")
    out = run_main(capsys, extractor, "--sessions", 1, 2, "--checkpoint-root", tmp_path, "--num", 8, "--prdc",
                   "--copies", 4, "--cache-dir", tmp_path / "cache")
    assert re.search(r"^Session 1, epoch 2: FID: \S+  precision: \S+  recall: \S+  density: \S+  coverage: \S+  "
                     r"copies: \S+  copies_pixels: \S+$", out, re.M), out
    with open(tmp_path / "fid_sessions.csv") as f:
        rows = list(csv.DictReader(f))
    names = ["precision", "recall", "density", "coverage", "copies", "copies_pixels"]
    assert list(rows[0]) == ["session", "epoch", "FID", *names]
    assert all(0 <= float(row[name]) for row in rows for name in names)
    assert (tmp_path / "fid_sessions.md").read_text().startswith(
        "| session | epoch | FID | precision | recall | density | coverage | copies | copies_pixels |")
    assert all((tmp_path / f"training_{copy}" / "copies.png").is_file() for copy in (1, 2))


# --- the images beside their features -------------------------------------------------------------

@pytest.mark.slow
def test_a_sources_images_line_up_with_its_features_from_the_cache(tmp_path, extractor):
    from metrics import sources
    source = sources.image_source(str(make_image_folder(tmp_path / "images", count=9)), 32, 3, 0)
    computed = sources.source_stats_with_images(source, extractor, tmp_path / "cache", count=4)
    cached = sources.source_stats_with_images(source, extractor, tmp_path / "cache", count=4)
    assert "cached in" in computed[1] and "from the cache" in cached[1]
    assert cached[0].count == 9 and cached[2].pixels.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(computed[2].pixels, cached[2].pixels)
    # The rows of the subset are the features of exactly these images, also when read from the cache.
    np.testing.assert_allclose(cached[2].features, extractor.statistics([cached[2].pixels], True).features,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_generated_images_are_the_first_of_those_fid_measures(gray_session, extractor):
    from metrics import sources
    from training import state as session_state
    state, _ = session_state.load_session(*gray_session)
    # 20 of 40 images in batches of 16: the kept images end inside the second batch.
    stats, images = sources.generator_stats_with_images(state.ema_generator, state.cfg, 40, extractor, 3, 20)
    alone = sources.generator_stats(state.ema_generator, state.cfg, 40, extractor, 3)
    np.testing.assert_allclose(stats.mu, alone.mu, rtol=1e-6)
    expected = np.concatenate(list(sources.generated_batches(state.ema_generator, state.cfg, 40, 3, 16)))[:20]
    np.testing.assert_array_equal(images.pixels, expected)
    np.testing.assert_allclose(images.features, extractor.statistics([expected], True).features, rtol=1e-4, atol=1e-5)


def test_pixels_are_compared_up_to_64x64():
    from metrics import memorisation, sources
    rng = np.random.default_rng(0)
    for size, pixels_too in ((64, True), (65, False)):
        real = sources.Images(rng.integers(0, 256, (6, size, size, 1), np.uint8), rng.normal(size=(6, 8)))
        checked = memorisation.check(sources.Images(real.pixels[:2], real.features[:2]), real)
        assert checked.features.share == 1.0 and (checked.pixels is not None) == pixels_too
        assert checked.grid.shape == (size + 2 + 6, 2 * (2 * size + 3 + 3) + 3, 1)  # two pairs in a row, not scaled


# --- mistakes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--copies", "20", "--num", "10"], "more than --num 10"),
    (["--copies-grid", "g.png"], "pass --copies N too"),
    (["--sessions", "1", "--copies", "5", "--copies-grid", "g.png"], "each session's grid goes into its folder"),
    (["--copies", "5", "--copies-grid", "no/such/folder/g.png"], "does not exist"),
])
def test_copies_argument_mistakes(args, message, tmp_path):
    with pytest.raises(UserError, match=message):
        compute_fid.main([*args, "--checkpoint-root", str(tmp_path)])


@pytest.mark.slow
def test_copies_need_images_and_a_grid_file_for_a_folder(tmp_path, extractor):
    folder = make_image_folder(tmp_path / "images", count=3)
    with pytest.raises(UserError, match="needs --copies-grid FILE"):
        compute_fid.main(["--real", str(folder), "--fake", str(folder), "--copies", "2", *TINY], extractor=extractor)
    np.savez(tmp_path / "stats.npz", mu=np.zeros(3), sigma=np.eye(3))
    result = run_script("compute_fid.py", "--real", tmp_path / "stats.npz", "--fake", folder, "--copies", 2,
                        "--copies-grid", tmp_path / "g.png", *TINY)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"error: --copies compares images, and {tmp_path / 'stats.npz'} holds only "
                                          "statistics. Pass the image folder or dataset it was computed from, or "
                                          "drop --copies."]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "stats.npz"]
