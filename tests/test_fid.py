"""FID: the distance against closed forms, then compute_fid.py end to end at tiny size.

The pipeline tests use the standard FID network with seeded random weights at a 75x75 input (this
machine cannot download the real ones); they check the plumbing, the cache and the errors, not the
values. tests/test_fid_inception.py covers the network and its weights file.
"""
import contextlib
import csv
import io
import re
import shutil

import numpy as np
import pytest
import scipy.linalg
from PIL import Image

import compute_fid
from metrics import fid
from conftest import make_image_folder, printed_value, run_script
from utils.errors import UserError

pytestmark = pytest.mark.slow  # builds the Inception network and trains sessions

TINY = ["--weights", "random", "--inception-size", "75", "--batch-size", "16"]


# --- the math ---------------------------------------------------------------------------------

def test_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # |mu1-mu2|^2 = 1+4+4 = 9; sum(s1+s2-2 sqrt(s1 s2)) = (5-4)+(5-4)+(10-6) = 6
    assert fid.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(15.0, rel=1e-10)


def test_full_covariances_match_the_general_matrix_square_root():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # pytorch-fid's way, independent of ours: the Schur-method root of the product.
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_singular_covariances_give_the_exact_value():
    # Rank-1 covariances (one image direction each), where a general root of S1 S2 is ill posed:
    # S1 = u u^T, S2 = v v^T -> S1 S2 has one eigenvalue (u.v)^2, so tr root = |u.v|.
    u, v = np.array([1.0, 2.0, 0.0]), np.array([0.0, 1.0, 3.0])
    s1, s2 = np.outer(u, u), np.outer(v, v)
    expected = u @ u + v @ v - 2 * abs(u @ v)
    assert fid.frechet_distance(np.zeros(3), s1, np.zeros(3), s2) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("count", [500, 10])  # 10 < 32 dimensions: a singular covariance
def test_a_set_with_itself_is_zero_and_the_distance_is_symmetric(count):
    rng = np.random.default_rng(count)
    a = fid.statistics(rng.normal(size=(count, 32)))
    b = fid.statistics(rng.normal(0.3, 1.5, size=(count, 32)))
    assert fid.fid_of_stats(a, a) == pytest.approx(0.0, abs=1e-6)
    assert fid.fid_of_stats(a, b) > 1.0
    assert fid.fid_of_stats(a, b) == pytest.approx(fid.fid_of_stats(b, a), rel=1e-6)


def test_running_statistics_match_numpy_over_uneven_batches():
    features = 1000.0 + np.random.default_rng(0).normal(size=(301, 8))  # large mean: cancellation risk
    running = fid.RunningStats(keep_features=True)
    for part in np.split(features, [7, 150, 151]):
        running.add(part)
    stats = running.result()
    assert stats.count == 301
    np.testing.assert_allclose(stats.mu, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(features, rowvar=False), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.features, features.astype(np.float32))
    with pytest.raises(ValueError):
        fid.statistics(features[:1])


def test_kid_by_hand():
    # k(a, b) = (ab + 1)^3 in one dimension, x = {0, 1}, y = {1, 2}:
    # within x: 2 k(0,1) / 2 = 1; within y: 2 k(1,2) / 2 = 27; across: 2 (1 + 1 + 8 + 27) / 4 = 18.5
    mean, std = fid.kernel_inception_distance([[0.0], [1.0]], [[1.0], [2.0]], subsets=3, subset_size=2)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(0)
    a, b, shifted = rng.normal(size=(400, 16)), rng.normal(size=(400, 16)), rng.normal(0.5, 1.0, size=(400, 16))
    same_mean, same_std = fid.kernel_inception_distance(a, b, subsets=10, subset_size=200)
    shift_mean, shift_std = fid.kernel_inception_distance(a, shifted, subsets=10, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shift_mean > 0.5 and shift_mean > 10 * shift_std


def test_small_n_warning():
    assert fid.small_n_warning(2048, "x") is None
    assert "10000" in fid.small_n_warning(2047, "x")


# --- the pipeline at tiny size ------------------------------------------------------------------

def run_main(capsys, extractor, *args):
    """compute_fid.main in this process with a shared extractor; (FID, stdout, images extracted)."""
    before = extractor.images_seen
    assert compute_fid.main([*map(str, args), *TINY], extractor=extractor) == 0
    out = capsys.readouterr().out
    return printed_value(out), out, extractor.images_seen - before


def test_cli_folder_against_folder_with_kid(tmp_path):
    real = make_image_folder(tmp_path / "real", count=6, seed=0)
    fake = make_image_folder(tmp_path / "fake", count=5, seed=1, mode="L")
    result = run_script("compute_fid.py", "--real", real, "--fake", fake, "--image-size", "32", "--kid",
                        "--cache-dir", tmp_path / "cache", *TINY, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    value = printed_value(result.stdout)
    assert np.isfinite(value) and value > 0
    assert re.search(r"^KID: \S+ ± \S+$", result.stdout, re.M), result.stdout
    assert "bilinearly to 75x75" in result.stdout and "6 images" in result.stdout and "5 images" in result.stdout
    assert "fewer than 2048" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def own_data_run(gray_session, tmp_path_factory, extractor):
    """The default comparison (newest session vs its own training data), its real side saved to a file."""
    root, _ = gray_session
    base = tmp_path_factory.mktemp("own_data")
    before = extractor.images_seen
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert compute_fid.main(["--checkpoint-root", str(root), "--num", "8", "--num-real", "0", "--kid",
                                 "--cache-dir", str(base / "cache"), "--save-stats-real", str(base / "real.npz"),
                                 *TINY], extractor=extractor) == 0
    return printed_value(out.getvalue()), out.getvalue(), extractor.images_seen - before, base


def test_session_against_its_own_data_and_the_training_api(gray_session, own_data_run, extractor):
    from metrics import inception, sources
    from training import sessions, state as session_state
    root, number = gray_session
    value, out, seen, base = own_data_run
    assert seen == 16 and f"session {number} at epoch 2" in out and "training data" in out and "KID: " in out
    assert len(list((base / "cache").glob("*.npz"))) == 1
    # What training calls every fid_every epochs: the real side comes from the cache ...
    state, _ = session_state.load_session(root, number)
    before = extractor.images_seen
    real = sources.real_stats_for_config(state.cfg, extractor, num=0, cache_dir=base / "cache")
    assert extractor.images_seen == before, "the real side was extracted again instead of read from the cache"
    # ... and the generated side gives the number the script printed.
    assert sources.fid_of_generator(state.ema_generator, state.cfg, real, 8, extractor, seed=0) == \
        pytest.approx(value, rel=1e-5)
    assert extractor.images_seen == before + 8


def test_statistics_files_from_another_network_are_refused(own_data_run, tmp_path, extractor):
    arrays = dict(np.load(own_data_run[3] / "real.npz"))
    np.savez(tmp_path / "other.npz", **dict(arrays, meta='{"features": {"weights": "imagenet"}}'))
    with pytest.raises(UserError, match="other features"):
        compute_fid.main(["--real", str(tmp_path / "other.npz"), "--fake", str(own_data_run[3] / "real.npz"), *TINY],
                         extractor=extractor)


def test_the_cache_is_reused_until_a_file_changes(tmp_path, extractor):
    from metrics import inception, sources
    folder = make_image_folder(tmp_path / "real", count=4, mode="L")

    def stats(keep_features=False):
        before = extractor.images_seen
        result, origin = sources.source_stats(sources.image_source(str(folder), 28, 1, 0), extractor,
                                                 tmp_path / "cache", keep_features)
        return result, origin, extractor.images_seen - before
    first, origin, seen = stats()
    assert seen == 4 and "cached in" in origin and first.features is None
    second, origin, seen = stats()
    assert seen == 0 and "from the cache" in origin
    np.testing.assert_array_equal(first.sigma, second.sigma)
    assert stats(keep_features=True)[2] == 4, "--kid needs feature vectors, which this entry lacks"
    assert stats(keep_features=True)[2] == 0
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(folder / "img_001.png")
    assert stats()[2] == 4


def test_session_table_columns_and_order():
    from metrics import report
    rows = [{"session": 1, "epoch": 5, "cfg": {"seed": 1, "g_lr": 2e-4},
             "values": {"FID": 30.0, "KID": 0.02, "KID std": 0.001, "copies": 0.25}},
            {"session": 2, "epoch": 7, "cfg": {"seed": 1, "g_lr": 1e-4},
             "values": {"FID": 20.0, "KID": 0.01, "KID std": 0.001, "copies": 0.5, "copies_pixels": 0.125}}]
    columns, table = report.session_table(rows)
    assert columns == ["session", "epoch", "g_lr", "FID", "KID", "KID std", "copies", "copies_pixels"]
    # Session 1's images were too large for the pixel check: its cell stays empty.
    assert table == [[2, 7, 1e-4, "20", "0.01", "0.001", "0.5", "0.125"], [1, 5, 2e-4, "30", "0.02", "0.001", "0.25", ""]]


def test_sessions_table_against_saved_real_statistics(gray_session, own_data_run, tmp_path, capsys, extractor):
    root, _ = gray_session
    for number in (1, 2):
        shutil.copytree(root / "training_1", tmp_path / f"training_{number}")
    config = tmp_path / "training_2" / "config.yaml"
    config.write_text(config.read_text().replace("d_lr: 0.0002", "d_lr: 0.0001"))
    before = extractor.images_seen
    assert compute_fid.main(["--sessions", "2", "1", "--checkpoint-root", str(tmp_path), "--num", "6", "--kid",
                             "--real", str(own_data_run[3] / "real.npz"), *TINY], extractor=extractor) == 0
    out = capsys.readouterr().out
    assert out.count("(statistics file)") == 2 and extractor.images_seen - before == 12  # generated only
    with open(tmp_path / "fid_sessions.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["session", "epoch", "d_lr", "FID", "KID", "KID std"]
    assert sorted((row["session"], row["d_lr"]) for row in rows) == [("1", "0.0002"), ("2", "0.0001")]
    fids = [float(row["FID"]) for row in rows]
    assert fids == sorted(fids)
    markdown = (tmp_path / "fid_sessions.md").read_text()
    assert markdown.startswith("| session | epoch | d_lr | FID | KID | KID std |") and markdown in out


# --- errors the user can fix ----------------------------------------------------------------------

def test_too_few_images(tmp_path, extractor):
    one, three = make_image_folder(tmp_path / "one", count=1), make_image_folder(tmp_path / "three", count=3)
    with pytest.raises(UserError, match="1 usable image.*at least 2"):
        compute_fid.main(["--real", str(one), "--fake", str(three), "--no-cache", *TINY], extractor=extractor)


@pytest.mark.parametrize("args, message", [
    (["--real", "3"], "session numbers go to --fake"),
    (["--sessions", "1", "2", "--fake", "3"], "does not combine with --fake"),
    (["--fake", "."], "--real is needed"),
    (["--save-stats-real", "no/such/folder/r.npz"], "does not exist"),
])
def test_argument_mistakes(args, message, tmp_path):
    with pytest.raises(UserError, match=message):
        compute_fid.main([*args, "--checkpoint-root", str(tmp_path)])


def test_missing_folder_is_a_message_not_a_traceback(tmp_path):
    result = run_script("compute_fid.py", "--real", tmp_path / "nowhere", "--fake", tmp_path, "--no-cache", *TINY)
    assert result.returncode == 2
    assert "error:" in result.stderr and "nowhere: no such folder" in result.stderr
    assert "Traceback" not in result.stderr and "FID:" not in result.stdout


def test_weights_that_do_not_exist_or_cannot_be_read(tmp_path):
    from metrics import inception, sources
    with pytest.raises(UserError, match="no such file"):
        inception.InceptionFeatures(str(tmp_path / "missing.h5"), 75)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not an HDF5 file" * 100)
    with pytest.raises(UserError, match="neither a PyTorch file .* nor an HDF5 file"):
        inception.InceptionFeatures(str(broken), 75)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(inception.HDF5_SIGNATURE + b"\0" * 100)
    with pytest.raises(UserError, match="cannot be read as InceptionV3 weights"):
        inception.InceptionFeatures(str(truncated), 75)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras-internal, in load_weights
def test_a_local_keras_weights_file_loads_keras_inceptionv3(tmp_path):
    import keras
    from metrics import inception
    keras.utils.set_random_seed(1)
    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None, input_shape=(75, 75, 3))
    path = tmp_path / "inception.weights.h5"
    model.save_weights(path)
    local = inception.InceptionFeatures(str(path), 75, batch_size=16)
    assert local.network == inception.IMAGENET and "Keras' InceptionV3" in local.description
    for loaded, saved in zip(local.model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
    assert local.identity["weights"].startswith("md5:")
    assert local.identity["pipeline"] == inception.PIPELINES[inception.IMAGENET]


@pytest.mark.parametrize("weights, says, names", [
    ([], "Could not download the FID Inception weights", "pt_inception-2015-12-05-6726825d.pth"),
    (["--weights", "imagenet"], "Could not download the InceptionV3 ImageNet weights",
     "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")])
def test_offline_download_explains_what_to_fetch(tmp_path, weights, says, names):
    # A proxy nobody listens on makes the download fail fast here and on a machine with internet;
    # an empty KERAS_HOME makes sure no cached copy is used.
    folder = make_image_folder(tmp_path / "images", count=3)
    dead = "http://127.0.0.1:9"
    result = run_script("compute_fid.py", "--real", folder, "--fake", folder, "--inception-size", "75", "--no-cache",
                        *weights, timeout=180, fresh_interpreter=True,
                        env={"https_proxy": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "HTTP_PROXY": dead,
                             "no_proxy": "", "NO_PROXY": "", "KERAS_HOME": str(tmp_path / "keras")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert "--weights" in result.stderr and names in result.stderr
    assert "Traceback" not in result.stderr


def test_training_and_compute_fid_share_one_statistics_cache(tmp_path):
    data = make_image_folder(tmp_path / "images", mode="L")
    cache, root = tmp_path / "cache", tmp_path / "ck"
    trained = run_script("DCGAN_train.py", "--checkpoint-root", root, 1, 1, "--data", data, "--set", "channels=1",
                         "--set", "g_filters=8", "--set", "d_filters=8", "--set", "batch_size=4",
                         "--set", f"cache_dir={cache}", "--set", "fid_every=1", "--set", "fid_num=8",
                         "--set", "fid_weights=random")
    assert trained.returncode == 0, trained.stderr
    assert [p.parent.name for p in cache.rglob("*.npz")] == ["fid"]
    # No --cache-dir: the session's own cache_dir is where the script looks.
    result = run_script("compute_fid.py", "--checkpoint-root", root, "--weights", "random", "--num", "8",
                        "--num-real", "8")
    assert result.returncode == 0, result.stderr
    assert "statistics from the cache" in result.stdout, result.stdout
    assert len(list(cache.rglob("*.npz"))) == 1
