"""The speed benchmarks: train, folder, memory, generate and fid (bench.py runs them; see bench/README.md).

Each measures the project beside a baseline in the same process where there is one, and prints one
line `NAME key=value ...`.
"""
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import runs
from quality import report

REPO = Path(__file__).resolve().parent.parent


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def make_folder(folder, count, size, seed=0):
    """`count` JPEGs of size x size with smooth random content (so JPEG sizes are realistic)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC).save(folder / f"{i:06d}.jpg", quality=90)
    return folder


def _project_epoch_seconds(overrides, images, epochs, root):
    """Wall-clock seconds of each of epochs 2..E of training.run, sampling and checkpoints included."""
    from training import sessions
    from training.progress import SessionProgress
    runs.train_session(root, overrides, epochs, images)
    # Each grid is written at the end of its epoch.
    ends = [grid.stat().st_mtime for grid in SessionProgress(sessions.session_dir(root, 1)).epoch_grids()]
    return list(np.diff(ends))


def _plain_epoch_seconds(cfg, pixels, epochs):
    """Seconds of each of epochs 2..E of the TF DCGAN tutorial's loop around the identical networks and batch size."""
    import tensorflow as tf
    import models
    generator, discriminator = models.build_generator(cfg), models.build_discriminator(cfg)
    g_opt = tf.keras.optimizers.Adam(cfg["g_lr"], beta_1=cfg["beta1"])
    d_opt = tf.keras.optimizers.Adam(cfg["d_lr"], beta_1=cfg["beta1"])
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    batch = cfg["batch_size"]

    @tf.function
    def step(real):
        noise = tf.random.normal([batch, cfg["noise_dim"]])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(noise, training=True)
            real_out, fake_out = discriminator(real, training=True), discriminator(fake, training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))

    data = tf.data.Dataset.from_tensor_slices(np.asarray(pixels)).map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1)
    data = data.shuffle(len(pixels)).batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    seconds = []
    for _ in range(epochs):
        start = time.monotonic()
        for real in data:
            step(real)
        seconds.append(time.monotonic() - start)
    return seconds[1:]


def side_by_side(project, plain, rounds, images):
    """Epoch times of the project and the plain loop, alternated for `rounds` rounds.

    This VM's CPU speed steps by 15-25% for minutes at a time (a pure NumPy loop shows it), so
    one epoch of each side says little. Each side's fastest epoch is the one least slowed by
    the machine (timeit's rule: noise only adds time); the median is reported beside it.
    """
    project_seconds, plain_seconds = [], []
    for _ in range(rounds):
        project_seconds += project()
        plain_seconds += plain()
    best = {"project_ips": images / min(project_seconds), "plain_ips": images / min(plain_seconds)}
    return dict(best, ratio=best["project_ips"] / best["plain_ips"],
                ratio_median=np.median(plain_seconds) / np.median(project_seconds), epochs_each=len(project_seconds))


def _default_precision():
    """The precision a new session picks here (precision: auto), for both sides of a comparison."""
    import tensorflow as tf
    from training.distribute import choose_precision
    return choose_precision(tf.distribute.get_strategy())[0]


def _add_rounds(parser):
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the project and the baseline; "
                        "each side's fastest epoch is compared (default 2)")


def train_arguments(parser):
    parser.add_argument("--images", type=int, default=12800, help="Fashion-MNIST images (default 12800)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each side; the first is not timed (default 3)")
    _add_rounds(parser)


def train(args):
    """images/s of training.run against the TF DCGAN tutorial's loop, on Fashion-MNIST.

    The plain loop trains the identical networks at the same batch size on the same subset; the
    two alternate for --rounds rounds and each side's fastest epoch is compared."""
    from data.datasets import load_training_images
    from data.pipeline import steps_per_epoch
    from training import config
    overrides = {"max_images": args.images, "precision": _default_precision()}
    cfg = config.load_config(overrides=overrides)
    images = load_training_images(cfg)
    steps_images = steps_per_epoch(len(images.images), cfg["batch_size"]) * cfg["batch_size"]

    def project():
        with tempfile.TemporaryDirectory() as root:
            return _project_epoch_seconds(overrides, images, args.epochs, root)

    result = side_by_side(project, lambda: _plain_epoch_seconds(cfg, images.images, args.epochs), args.rounds,
                          steps_images)
    report("train", images=len(images.images), batch=cfg["batch_size"], precision=cfg["precision"], **result)


def folder_arguments(parser):
    parser.add_argument("--images", type=int, default=20000, help="128x128 JPEGs generated and trained on (default 20000)")
    parser.add_argument("--filters", type=int, help="g_filters and d_filters (default: the paper's 128 and 64; "
                        "smaller networks make the input pipeline's share larger)")
    _add_rounds(parser)


def folder(args):
    """Folder training: first and second epoch images/s against in-memory tensors.

    A generated folder of 128x128 JPEGs trained at 64x64x3: the first epoch includes decoding into
    the cache; the baseline is the same images as in-memory tensors in the tutorial's loop."""
    from data import datasets, pipeline
    from training import config
    g_filters, d_filters = (args.filters, args.filters) if args.filters else (128, 64)
    overrides = {"dataset": "folder", "image_size": 64, "channels": 3, "g_filters": g_filters, "d_filters": d_filters,
                 "d_batchnorm": True, "d_dropout": 0.0, "batch_size": 64, "checkpoint_every": 1000,
                 "precision": _default_precision()}
    with tempfile.TemporaryDirectory() as tmp:
        jpegs = make_folder(Path(tmp) / "jpegs", args.images, 128)
        overrides.update(data_dir=str(jpegs), cache_dir=str(Path(tmp) / "cache"))
        cfg = config.load_config(overrides=overrides)
        start = time.monotonic()
        images = datasets.load_training_images(cfg)  # first epoch pays the decode
        decode = time.monotonic() - start
        in_memory = np.asarray(images.images)
        steps_images = pipeline.steps_per_epoch(len(images.images), cfg["batch_size"]) * cfg["batch_size"]

        def project():
            with tempfile.TemporaryDirectory() as root:  # epochs after the first read only the cache
                return _project_epoch_seconds(overrides, images, 2, root)

        result = side_by_side(project, lambda: _plain_epoch_seconds(cfg, in_memory, 2), args.rounds, steps_images)
    first = steps_images / (decode + steps_images / result["project_ips"])
    report("folder", images=len(images.images), g_filters=g_filters, d_filters=d_filters,
           precision=cfg["precision"], first_epoch_ips=first,
           second_epoch_ips=result["project_ips"], in_memory_ips=result["plain_ips"], ratio=result["ratio"],
           ratio_median=result["ratio_median"], peak_rss_mb=peak_rss_mb())


def memory_arguments(parser):
    parser.add_argument("--images", type=int, default=100000, help="64x64 images, also measured at a tenth "
                        "(default 100000)")


def memory(args):
    """Peak RSS iterating one epoch over a large folder, against a tenth of it.

    A fresh process decodes a folder of 64x64 images into the cache and iterates one epoch of
    batches, at --images and at a tenth of them."""
    from training import config
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for count in (args.images // 10, args.images):
            small = make_folder(Path(tmp) / f"small_{count}", count, 64, seed=count)
            cfg = config.load_config(overrides={"dataset": "folder", "data_dir": str(small), "image_size": 64,
                                                "channels": 3, "cache_dir": str(Path(tmp) / "cache")})
            code = ("import sys, resource; sys.path.insert(0, %r)\n"
                    "from training import config\nfrom data import datasets, pipeline\n"
                    "cfg = config.validate(%r)\n"
                    "images = datasets.load_training_images(cfg).images\n"
                    "for batch in pipeline.epoch_dataset(images, 128, 0, 1, True): pass\n"
                    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n") % (str(REPO), cfg)
            # Decode (building the cache) and iterate in one fresh process, so its peak is this count's alone.
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            rows.append((count, float(out.split()[-1])))
    (_, small_mb), (large, large_mb) = rows
    report("memory", images=large, peak_rss_mb=large_mb, peak_rss_mb_at_tenth=small_mb,
           growth=large_mb / small_mb)


def _tiny_session(tmp):
    """A 28x28 session trained one epoch on one batch of zeros: something to generate from.
    Returns its checkpoint root."""
    from data.datasets import TrainingImages
    root = Path(tmp) / "ck"
    runs.train_session(root, {"dataset": "folder", "data_dir": str(tmp)}, 1,
                       TrainingImages(np.zeros((128, 28, 28, 1), np.uint8), "zeros"))
    return root


def generate_arguments(parser):
    parser.add_argument("--images", type=int, default=10000, help="PNGs written by generate_img.py; the "
                        "one-at-a-time loop writes a tenth of them (default 10000)")


def generate(args):
    """PNGs/s of generate_img.py against one image at a time.

    The script's time includes its process start; the baseline is generator(1 image) and a PNG
    write in a loop."""
    import tensorflow as tf
    from utils import imaging
    from training import state as session_state
    with tempfile.TemporaryDirectory() as tmp:
        root = _tiny_session(tmp)
        start = time.monotonic()
        subprocess.run([sys.executable, str(REPO / "generate_img.py"), "--checkpoint-root", str(root),
                        "1", "100", str(args.images), "--seed", "1", "--out", str(Path(tmp) / "fast")],
                       check=True, capture_output=True)
        fast = args.images / (time.monotonic() - start)
        state, _ = session_state.load_session(root, 1)
        naive_dir = Path(tmp) / "naive"
        naive_dir.mkdir()
        count = max(1, args.images // 10)  # the naive loop is timed on a tenth of the images
        start = time.monotonic()
        for i in range(count):
            image = state.ema_generator(tf.random.normal([1, state.cfg["noise_dim"]]), training=False).numpy()
            imaging.write_png(naive_dir / f"{i:06d}.png", imaging.to_uint8(image)[0])
        naive = count / (time.monotonic() - start)
    report("generate", images=args.images, script_png_per_sec=fast, naive_png_per_sec=naive, ratio=fast / naive)


def fid_arguments(parser):
    parser.add_argument("--images", type=int, default=500, help="images a side for compute_fid.py (default 500)")


def fid(args):
    """InceptionV3 images/s; a second compute_fid.py call (cached) against the first.

    Real side: a folder, whose statistics the first call caches; generated side: a session, as in use."""
    from metrics import inception
    with tempfile.TemporaryDirectory() as tmp:
        root = _tiny_session(tmp)
        real = make_folder(Path(tmp) / "real", args.images, 28, seed=1)
        command = [sys.executable, str(REPO / "compute_fid.py"), "--checkpoint-root", str(root), "--real", str(real),
                   "--fake", "1", "--weights", "random", "--num", str(args.images),
                   "--num-real", str(args.images), "--cache-dir", str(Path(tmp) / "cache")]
        times = []
        for _ in range(2):
            start = time.monotonic()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.monotonic() - start)
    extractor = inception.InceptionFeatures("random")
    batch = np.random.default_rng(0).integers(0, 256, (200, 64, 64, 3), dtype=np.uint8)
    extractor.statistics([batch[:50]])  # trace
    start = time.monotonic()
    extractor.statistics([batch])
    report("fid", images=args.images, inception_ips=len(batch) / (time.monotonic() - start),
           first_call_s=times[0], second_call_s=times[1], ratio=times[1] / times[0])


# name: (add_arguments(parser), run(args)), for bench.py
BENCHES = {"train": (train_arguments, train), "folder": (folder_arguments, folder),
           "memory": (memory_arguments, memory), "generate": (generate_arguments, generate),
           "fid": (fid_arguments, fid)}
