"""Issue 6, training side: a mirrored strategy over two logical CPUs, and the GPU flags on CPU."""
import subprocess
import sys

import numpy as np
import tensorflow as tf

from conftest import REPO, TINY, make_image_folder, run_script

# Two logical CPU devices must exist before TensorFlow starts, so this runs in its own process.
MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.argv = ["DCGAN_train.py", *sys.argv[1:]]
import cli, DCGAN_train
cli.run(DCGAN_train.main)
"""


def test_mirrored_training_on_two_devices_restores_without_a_strategy(tmp_path):
    data = make_image_folder(tmp_path / "images", count=16)
    root = tmp_path / "ck"
    mirrored = subprocess.run([sys.executable, "-c", MIRRORED, "--checkpoint-root", str(root), "--strategy",
                               "mirrored", "1", "1", "--data", str(data), *TINY], cwd=REPO, capture_output=True,
                              text=True)
    assert mirrored.returncode == 0, mirrored.stdout + mirrored.stderr
    assert "4 steps of 4" in mirrored.stdout  # the global batch of 4 is split over the 2 replicas
    plain = run_script("DCGAN_train.py", "--checkpoint-root", root, "-r", 1, 1, 2)
    assert plain.returncode == 0, plain.stderr
    assert "Restored session 1" in plain.stdout


def test_mixed_precision_and_xla_train_on_cpu(tmp_path):
    data = make_image_folder(tmp_path / "images", count=8)
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", 1, 1, "--data", data, *TINY,
                        "--set", "mixed_precision=true", "--set", "jit_compile=true")
    assert result.returncode == 0, result.stdout + result.stderr
    reader = tf.train.load_checkpoint(str(tmp_path / "ck" / "training_1" / "ckpt-1"))
    names = reader.get_variable_to_shape_map()
    assert any("loss_scale" in name or "dynamic_scale" in name for name in names), sorted(names)[:20]
    metrics = (tmp_path / "ck" / "training_1" / "metrics.csv").read_text().splitlines()[1].split(",")
    assert np.isfinite([float(v) for v in metrics[1:5]]).all()


def test_mixed_precision_keeps_float32_outputs():
    import config
    import models
    cfg = config.load_config(overrides={"mixed_precision": True, "g_filters": 4, "d_filters": 4})
    generator, discriminator = models.build_generator(cfg), models.build_discriminator(cfg)
    images = generator(tf.zeros((2, cfg["noise_dim"])), training=False)
    assert images.dtype == tf.float32 and discriminator(images).dtype == tf.float32
    assert generator.layers[0].compute_dtype == "float16" and generator.layers[0].kernel.dtype == "float32"
