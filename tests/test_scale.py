"""Training side of scale: mirrored and multi-worker strategies on CPU, and the GPU flags on CPU."""
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, TINY, make_image_folder, run_script

pytestmark = pytest.mark.slow  # trains on two logical devices in a subprocess

# Two logical CPU devices must exist before TensorFlow starts, so this runs in its own process.
# DCGAN_train.py with two replicas for the mirrored strategy on a CPU-only machine.
TWO_DEVICES = "tests/train_on_two_cpu_devices.py"


def test_mirrored_training_on_two_devices_restores_without_a_strategy(tmp_path):
    data = make_image_folder(tmp_path / "images", count=16)
    root = tmp_path / "ck"
    mirrored = run_script(TWO_DEVICES, "--checkpoint-root", root, "--strategy", "mirrored", "1", "1", "--data", data,
                          *TINY)
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


@pytest.mark.parametrize("flags, chosen, reason", [
    ("fpu sse2 avx2 avx512f avx512_bf16 avx512_fp16", "mixed_bfloat16", "the CPU has AVX512_BF16"),
    ("fpu sse2 avx2 amx_tile amx_bf16", "mixed_bfloat16", "the CPU has AMX_BF16"),
    ("fpu sse2 avx2 avx512f avx512_vnni", "float32", "no bfloat16 instructions"),  # AVX-512 without bfloat16
])
def test_auto_precision_picks_bfloat16_only_on_a_cpu_with_bfloat16_instructions(tmp_path, flags, chosen, reason):
    from training.distribute import choose_precision
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("".join(f"processor\t: {n}\nmodel name\t: some CPU\nflags\t\t: {flags}\n\n" for n in (0, 1)))
    precision, why = choose_precision(tf.distribute.get_strategy(), cpuinfo)
    assert precision == chosen and reason in why
    assert choose_precision(tf.distribute.get_strategy(), tmp_path / "no_such_file")[0] == "float32"


def test_auto_precision_is_decided_when_a_session_starts_and_kept_on_resume(tmp_path):
    """The choice is printed and stored in config.yaml; a resume, even one that asks for auto
    again, keeps the precision the checkpoints were trained in."""
    from training import sessions
    from training.distribute import choose_precision
    expected, why = choose_precision(tf.distribute.get_strategy())  # this machine's CPU
    data = make_image_folder(tmp_path / "images", count=8)
    root = tmp_path / "ck"
    started = run_script("DCGAN_train.py", "--checkpoint-root", root, 1, 1, "--data", data, *TINY,
                         "--set", "precision=auto")
    assert started.returncode == 0, started.stderr
    assert f"Precision: {expected} (auto: {why};" in started.stdout
    assert sessions.read_stored_config(root / "training_1")["precision"] == expected
    resumed = run_script("DCGAN_train.py", "--checkpoint-root", root, "-r", 1, 1, 2, "--set", "precision=auto")
    assert resumed.returncode == 0, resumed.stderr
    assert "Precision:" not in resumed.stdout and "Config change" not in resumed.stdout
    assert sessions.read_stored_config(root / "training_1")["precision"] == expected


def test_mixed_precision_keeps_float32_outputs():
    from training import config
    import models
    cfg = config.load_config(overrides={"mixed_precision": True, "g_filters": 4, "d_filters": 4})
    generator, discriminator = models.build_generator(cfg), models.build_discriminator(cfg)
    images = generator(tf.zeros((2, cfg["noise_dim"])), training=False)
    assert images.dtype == tf.float32 and discriminator(images).dtype == tf.float32
    assert generator.layers[0].compute_dtype == "float16" and generator.layers[0].kernel.dtype == "float32"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_on_loopback_train_the_global_batch_and_only_the_chief_writes(tmp_path):
    """Two processes under MultiWorkerMirroredStrategy, one replica each, against the mirrored
    strategy over two local devices: the same global batches split the same way, so the same
    weights. SIGINT goes to the chief alone; the worker must stop at the same step, not hang."""
    data = make_image_folder(tmp_path / "images", count=16)
    args = ["1", "50", "--data", str(data), *TINY, "--set", "checkpoint_every=5", "--set", "deterministic=true"]
    root = tmp_path / "ck"
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index in range(2):
        temp = tmp_path / f"tmp{index}"
        temp.mkdir()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TMPDIR=str(temp),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen([sys.executable, str(REPO / "DCGAN_train.py"), "--checkpoint-root", str(root),
                                         "--strategy", "multiworker", *args], cwd=REPO, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    chief, worker = workers
    for line in chief.stdout:
        if line.startswith("epoch 2/50  g_loss"):
            break
    chief.send_signal(signal.SIGINT)
    outputs = [process.communicate(timeout=120) for process in workers]
    assert chief.returncode == 130, outputs[0]
    assert worker.returncode == 143, outputs[1]
    assert "-r 2 1 50" in outputs[1][0]

    session = root / "training_1"
    assert sorted(p.name for p in session.glob("ckpt-*.index")) == ["ckpt-2.index"]
    assert [p.name for p in (session / "images").iterdir()] == ["epoch_0001.png", "epoch_0002.png"]
    assert len((session / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs, written once
    assert not any((tmp_path / "tmp1").iterdir())  # the worker's checkpoint copies are gone

    mirrored_root = tmp_path / "mirrored"
    mirrored = run_script(TWO_DEVICES, "--checkpoint-root", mirrored_root, "--strategy", "mirrored", "1", "2",
                          *args[2:])
    assert mirrored.returncode == 0, mirrored.stderr
    expected = tf.train.load_checkpoint(str(mirrored_root / "training_1" / "ckpt-2"))
    saved = tf.train.load_checkpoint(str(session / "ckpt-2"))
    names = [n for n in expected.get_variable_to_shape_map() if "generator" in n and "VARIABLE_VALUE" in n]
    assert names
    for name in names:
        np.testing.assert_allclose(saved.get_tensor(name), expected.get_tensor(name), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_multiworker_without_tf_config_is_a_clear_error(tmp_path):
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", "--strategy", "multiworker", 1, 1,
                        "--data", make_image_folder(tmp_path / "images"), *TINY, env={"TF_CONFIG": ""})
    assert result.returncode == 2 and "needs the TF_CONFIG environment variable" in result.stderr
    assert not (tmp_path / "ck").exists()
    broken = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", "--strategy", "multiworker", 1, 1,
                        *TINY, env={"TF_CONFIG": '{"cluster": {}}'})
    assert broken.returncode == 2 and "TF_CONFIG is not a valid cluster description" in broken.stderr
