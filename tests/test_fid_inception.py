"""The standard FID instrument: the torch-free .pth reader, the 2015 Inception network in Keras,
TensorFlow 1's resize, the choice of network, and its errors.

The real weights file cannot be downloaded here: files are written by the tests (tests/pth_files.py
writes PyTorch's formats without torch) and the network gets seeded random weights. The agreement
with the reference implementation is measured by `bench/bench.py fid-reference`, not here.
"""
import zipfile

import numpy as np
import pytest

import compute_fid
import pth_files
from metrics import fid_inception, inception
from metrics.torch_archive import ArchiveError, read_state_dict
from utils.errors import UserError

# --- the reader ---------------------------------------------------------------------------------


def _mixed_archive():
    """Tensors of several dtypes, two of them strided views sharing one storage at an offset."""
    storages = {"shared": np.arange(20, dtype=np.float32)}
    tensors = {
        # rows of 4 from element 2: [[2, 3, 4, 5], [6, 7, 8, 9], [10, 11, 12, 13]], then transposed
        "transposed": pth_files.Tensor("shared", 2, (4, 3), (1, 4)),
        "every_other": pth_files.Tensor("shared", 1, (5,), (2,)),
        "long": pth_files.contiguous(storages, "l", np.array([[-3, 2**40]], np.int64)),
        "half": pth_files.contiguous(storages, "h", np.array([0.5, -2.25], np.float16)),
        "double": pth_files.contiguous(storages, "d", np.array([np.pi], np.float64)),
        "bytes": pth_files.contiguous(storages, "b", np.array([0, 255], np.uint8)),
        "flags": pth_files.contiguous(storages, "f", np.array([True, False])),
        "scalar": pth_files.Tensor("d", 0, (), ()),
    }
    expected = {"transposed": np.arange(2, 14, dtype=np.float32).reshape(3, 4).T,
                "every_other": np.array([1, 3, 5, 7, 9], np.float32), "long": np.array([[-3, 2**40]]),
                "half": np.array([0.5, -2.25], np.float16), "double": np.array([np.pi]),
                "bytes": np.array([0, 255], np.uint8), "flags": np.array([True, False]),
                "scalar": np.array(np.pi)}
    return tensors, storages, expected


@pytest.mark.parametrize("writer", [pth_files.write_zip, pth_files.write_legacy])
def test_reader_rebuilds_tensors_of_several_dtypes_and_strides(tmp_path, writer):
    tensors, storages, expected = _mixed_archive()
    read = read_state_dict(writer(tmp_path / "mixed.pth", tensors, storages))
    assert list(read) == list(expected)
    for name, value in expected.items():
        assert read[name].dtype == value.dtype and read[name].shape == value.shape, name
        np.testing.assert_array_equal(read[name], value, err_msg=name)
    assert read["transposed"].flags.c_contiguous  # a copy, not a view into the file's bytes


def test_reader_widens_bfloat16_to_float32(tmp_path):
    values = np.array([1.0, -0.375, 2.0**100], np.float32)  # exactly representable in bfloat16
    storages = {"0": (values.view(np.uint32) >> 16).astype(np.uint16)}
    path = pth_files.write_zip(tmp_path / "bf16.pth", {"w": pth_files.Tensor("0", 0, (3,), (1,))}, storages,
                                 storage_name="BFloat16Storage")
    np.testing.assert_array_equal(read_state_dict(path)["w"], values)


def test_reader_refuses_a_pickle_that_asks_for_any_other_class(tmp_path):
    tensors, storages, _ = _mixed_archive()
    path = pth_files.write_zip(tmp_path / "evil.pth", tensors, storages, extra_global=("os", "system"))
    with pytest.raises(ArchiveError, match="asks for os.system"):
        read_state_dict(path)


def test_reader_refuses_a_missing_storage(tmp_path):
    tensors, storages, _ = _mixed_archive()
    path = pth_files.write_zip(tmp_path / "holes.pth", tensors, storages, leave_out={"h"})
    with pytest.raises(ArchiveError, match="archive/data/h.* is missing"):
        read_state_dict(path)


def test_reader_refuses_a_tensor_past_the_end_of_its_storage(tmp_path):
    storages = {"0": np.zeros(6, np.float32)}
    path = pth_files.write_zip(tmp_path / "short.pth", {"w": pth_files.Tensor("0", 2, (2, 3), (3, 1))}, storages)
    with pytest.raises(ArchiveError, match="runs past the end"):
        read_state_dict(path)


@pytest.mark.parametrize("legacy", [False, True])
def test_reader_refuses_truncated_files(tmp_path, legacy):
    arrays = {"a": np.ones((64, 64), np.float32), "b": np.zeros(100, np.int64)}
    path = pth_files.write_state_dict(tmp_path / "whole.pth", arrays, legacy=legacy)
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) - 20):
        truncated = tmp_path / f"cut{cut}.pth"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ArchiveError):
            read_state_dict(truncated)
    assert set(read_state_dict(path)) == {"a", "b"}


def test_reader_refuses_a_zip_that_torch_did_not_write(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ArchiveError, match="no data.pkl"):
        read_state_dict(path)


# --- the network --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def network():
    import keras
    keras.utils.set_random_seed(0)
    return fid_inception.build(299)


@pytest.mark.slow
def test_network_has_the_2015_graphs_shapes_and_parameter_count(network):
    # 21,802,784 numbers in the reference TorchScript network (94 convolutions; batchnorm beta, mean
    # and variance) plus the 17,216 batchnorm scales of pytorch-fid's file, all ones
    assert network.count_params() == 21_820_000
    assert len([layer for layer in network.layers if layer.name.endswith(".conv")]) == 94
    shapes = {name: tuple(network.get_layer(name).output.shape[1:]) for name in
              ["Mixed_5b", "Mixed_5d", "Mixed_6a", "Mixed_6e", "Mixed_7a", "Mixed_7c"]}
    assert shapes == {"Mixed_5b": (35, 35, 256), "Mixed_5d": (35, 35, 288), "Mixed_6a": (17, 17, 768),
                      "Mixed_6e": (17, 17, 768), "Mixed_7a": (8, 8, 1280), "Mixed_7c": (8, 8, 2048)}
    assert tuple(network.output.shape) == (None, 2048)
    expected = fid_inception.expected_shapes(network)
    assert expected["Mixed_6b.branch7x7_2.conv.weight"] == (128, 128, 1, 7)
    assert expected["Mixed_7c.branch_pool.bn.running_var"] == (192,)


@pytest.mark.slow
def test_the_last_block_max_pools_and_the_others_average_without_padding(network):
    import keras
    pools = {layer.name: layer for layer in network.layers if isinstance(layer, (keras.layers.AveragePooling2D,
                                                                                 keras.layers.MaxPooling2D))}
    same = [layer for layer in pools.values() if layer.padding == "same"]
    # 3 blocks A, 4 blocks C and Mixed_7b average; Mixed_7c max-pools its pool branch
    assert sorted(type(layer).__name__ for layer in same) == ["AveragePooling2D"] * 8 + ["MaxPooling2D"]
    # Keras' SAME average pool divides a corner by the 4 pixels inside the image, not by 9
    corner = keras.layers.AveragePooling2D(3, 1, "same")(np.ones((1, 3, 3, 1), np.float32))
    assert float(corner[0, 0, 0, 0]) == 1.0


@pytest.mark.slow
def test_state_dict_problems_are_named(network):
    good = {k: np.zeros(s, np.float32) for k, s in fid_inception.expected_shapes(network).items()}
    assert fid_inception.check_state_dict(network, good) == []
    assert fid_inception.check_state_dict(network, dict(good, **{"fc.weight": np.zeros((1008, 2048))})) == []
    torchvision = dict(good, **{"fc.weight": np.zeros((1000, 2048)), "AuxLogits.fc.weight": np.zeros((1000, 768))})
    problems = " ".join(fid_inception.check_state_dict(network, torchvision))
    assert "AuxLogits.fc.weight" in problems and "fc.weight is (1000, 2048), not (1008, 2048)" in problems
    broken = dict(good)
    del broken["Mixed_5b.branch1x1.conv.weight"]
    broken["Conv2d_1a_3x3.conv.weight"] = np.zeros((32, 3, 5, 5))
    problems = " ".join(fid_inception.check_state_dict(network, broken))
    assert "1 tensors missing (e.g. Mixed_5b.branch1x1.conv.weight)" in problems
    assert "Conv2d_1a_3x3.conv.weight is (32, 3, 5, 5), not (32, 3, 3, 3)" in problems


def _tf1_bilinear(image, size):
    """TensorFlow 1's resize_bilinear, by hand: output pixel (i, j) reads the source at
    (i * H / size, j * W / size), neighbours clamped to the last row and column."""
    height, width = image.shape[:2]
    out = np.zeros((size, size) + image.shape[2:])
    for i in range(size):
        y = i * height / size
        y0 = int(np.floor(y))
        y1, dy = min(y0 + 1, height - 1), y - y0
        for j in range(size):
            x = j * width / size
            x0 = int(np.floor(x))
            x1, dx = min(x0 + 1, width - 1), x - x0
            top = image[y0, x0] * (1 - dx) + image[y0, x1] * dx
            bottom = image[y1, x0] * (1 - dx) + image[y1, x1] * dx
            out[i, j] = top * (1 - dy) + bottom * dy
    return out


def test_resize_is_tensorflow_1s_bilinear_rule_then_the_graphs_scaling():
    image = np.array([[0, 40, 200], [255, 10, 90]], np.uint8)[..., None].repeat(3, axis=-1)
    out = fid_inception.preprocess(image[None], 5).numpy()[0]
    np.testing.assert_allclose(out, (_tf1_bilinear(image.astype(np.float64), 5) - 128) / 128, atol=1e-6)
    # first row and column read the source's first pixel exactly: no half-pixel shift
    assert out[0, 0, 0] == pytest.approx(-1.0)
    # at 299 too (a 2x3 image is enlarged, as every 28x28 or 64x64 image is)
    big = fid_inception.preprocess(image[None], 299).numpy()[0]
    np.testing.assert_allclose(big[150, 200], (_tf1_bilinear(image.astype(np.float64), 299)[150, 200] - 128) / 128,
                               atol=1e-6)


# --- choosing and loading -----------------------------------------------------------------------

def test_the_standard_network_is_the_default_everywhere():
    assert compute_fid.parse_args([]).weights == inception.STANDARD
    from training import config
    assert config.load_config()["fid_weights"] is None  # training's fid_every: the standard network
    import inspect
    assert inspect.signature(inception.InceptionFeatures).parameters["weights"].default == inception.STANDARD


@pytest.mark.slow
def test_a_local_standard_file_is_loaded_by_content_and_keyed_by_its_hash(tmp_path, extractor):
    weights = {}
    for layer in extractor.model.layers:
        if layer.name.endswith(".conv"):
            weights[f"{layer.name}.weight"] = np.transpose(layer.kernel.numpy(), (3, 2, 0, 1))
        elif layer.name.endswith(".bn"):
            prefix = layer.name[:-3]
            for key, value in zip(fid_inception.BN_KEYS, (layer.gamma, layer.beta, layer.moving_mean,
                                                          layer.moving_variance)):
                weights[f"{prefix}.{key}"] = value.numpy()
    path = pth_files.write_state_dict(tmp_path / "weights.bin", weights)  # any name: the content decides
    local = inception.InceptionFeatures(str(path), 75, batch_size=16)
    assert local.network == inception.STANDARD
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    np.testing.assert_allclose(local.features(images), extractor.features(images), rtol=1e-5, atol=1e-6)
    assert local.identity["weights"].startswith("sha256:") and local.identity != extractor.identity
    assert local.identity["pipeline"] == extractor.identity["pipeline"] == inception.PIPELINES[inception.STANDARD]


@pytest.mark.slow
def test_files_of_another_network_or_damaged_are_refused_with_the_source(tmp_path):
    other = pth_files.write_state_dict(tmp_path / "resnet.pth", {"layer1.0.conv1.weight": np.zeros((64, 64, 3, 3),
                                                                                                      np.float32)})
    with pytest.raises(UserError, match="not of the FID Inception network: 470 tensors missing.*"
                                        "1 tensors this network does not have") as refused:
        inception.InceptionFeatures(str(other), 75)
    assert fid_inception.WEIGHTS_URL in str(refused.value)
    whole = other.read_bytes()
    (tmp_path / "cut.pth").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(UserError, match="cannot be read as FID Inception weights.*truncated or damaged"):
        inception.InceptionFeatures(str(tmp_path / "cut.pth"), 75)


@pytest.mark.slow
def test_a_damaged_download_in_the_cache_is_removed_and_refused(tmp_path):
    from conftest import make_image_folder, run_script
    cached = tmp_path / "keras" / "models" / fid_inception.WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    pth_files.write_state_dict(cached, {"x": np.zeros(3, np.float32)})
    folder = make_image_folder(tmp_path / "images", count=3)
    # Keras reads KERAS_HOME when it is imported: a fresh interpreter, not one forked after it
    result = run_script("compute_fid.py", "--real", folder, "--fake", folder, "--inception-size", "75",
                        "--no-cache", env={"KERAS_HOME": str(tmp_path / "keras")}, fresh_interpreter=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not have the SHA-256 its name promises" in result.stderr and "Traceback" not in result.stderr
    assert not cached.exists()


def test_the_statistics_cache_keys_by_network():
    from metrics import sources
    key = {"folder": "x", "count": 10}
    standard = dict(key, features={"weights": "standard", "input_size": 299,
                                   "pipeline": inception.PIPELINES[inception.STANDARD]})
    keras_v3 = dict(key, features={"weights": "imagenet", "input_size": 299,
                                   "pipeline": inception.PIPELINES[inception.IMAGENET]})
    assert sources._cache_path("c", standard) != sources._cache_path("c", keras_v3)


def test_weights_that_are_neither_kind_are_refused_before_any_network_is_built(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_text("hello")
    with pytest.raises(UserError, match="neither a PyTorch file .* nor an HDF5 file"):
        inception.network_of(str(path))
    assert inception.network_of(inception.RANDOM) == inception.STANDARD
    assert inception.network_of(str(pth_files.write_state_dict(tmp_path / "w", {}))) == inception.STANDARD


def test_the_reader_never_imports_torch(tmp_path):
    import subprocess
    import sys
    from conftest import REPO
    code = ("import sys, numpy as np; sys.path[:0] = ['tests', '.']; import pth_files; "
            "from metrics import torch_archive; "
            "torch_archive.read_state_dict(pth_files.write_state_dict(sys.argv[1], {'a': np.ones(2)})); "
            "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.pth")], cwd=REPO, check=True)
