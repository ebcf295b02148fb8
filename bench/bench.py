"""Benchmarks: each prints one line `NAME key=value ...`, with a ratio against a baseline measured
side by side in the same process where there is one.

    python bench/bench.py train            # project loop vs the TF tutorial's plain loop
    python bench/bench.py folder           # folder training: first and second epoch vs in-memory
    python bench/bench.py memory           # peak RSS iterating one epoch over a large folder
    python bench/bench.py generate         # generate_img.py vs one image at a time
    python bench/bench.py fid              # InceptionV3 images/s; cached second call vs first
    python bench/bench.py quality          # the default recipe's samples after each of 3 epochs
    python bench/bench.py conditional      # a conditional session's samples per epoch, agreement per class
    python bench/bench.py augment          # small subsets with and without augmentation, equal steps
    python bench/bench.py recipe           # candidate recipes side by side, scored after epochs 1, 3, 10
    python bench/bench.py recipe --recipe-folder 5000   # the same with the 64x64 folder config
    python bench/bench.py usefulness       # a conditional session's PRDC, copies and classifier accuracies
    python bench/bench.py fid-reference    # the FID Inception network against PyTorch's reference
    python bench/bench.py colour-recipe --data DIR --keep DIR   # 64x64 recipes at equal CPU time
    python bench/bench.py colour-augment --data DIR --keep DIR  # none/ADA/DiffAugment on a real subset
    python bench/bench.py all

Sizes are options (see --help), so a quick run can scale them down; bench/README.md says which
sizes its figures are for.
"""
import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import runs  # noqa: E402
from quality import report  # noqa: E402


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


def fashion_mnist_folder(folder, count, size):
    """A folder of `count` Fashion-MNIST training images (a seeded subset) as size x size RGB PNGs;
    an existing one is reused."""
    import quality
    if folder.is_dir() and len(list(folder.glob("*.png"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    images, _ = quality.training_set()
    for i, index in enumerate(np.random.default_rng(0).permutation(len(images))[:count]):
        Image.fromarray(images[index, :, :, 0]).convert("RGB").resize((size, size), Image.Resampling.BICUBIC) \
            .save(folder / f"{i:05d}.png")
    return folder


def _project_epoch_seconds(cfg_overrides, images, epochs, root):
    """Wall-clock seconds of each of epochs 2..E of training.run, sampling and checkpoints included."""
    from training import config
    from training import loop as training, plan as training_plan
    from training.progress import SessionProgress
    plan = training_plan.Plan(Path(root), 1, config.load_config(overrides=cfg_overrides), epochs)
    state = training.build_state(plan)
    training.run(plan, state, images)
    # Each grid is written at the end of its epoch.
    ends = [grid.stat().st_mtime for grid in SessionProgress(plan.session).epoch_grids()]
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


def _side_by_side(project, plain, rounds, images):
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


def bench_train(args):
    from data.datasets import load_training_images
    from data.pipeline import steps_per_epoch
    from training import config
    overrides = {"max_images": args.train_images, "precision": _default_precision()}
    cfg = config.load_config(overrides=overrides)
    images = load_training_images(cfg)
    steps_images = steps_per_epoch(len(images.images), cfg["batch_size"]) * cfg["batch_size"]

    def project():
        with tempfile.TemporaryDirectory() as root:
            return _project_epoch_seconds(overrides, images, args.epochs, root)

    result = _side_by_side(project, lambda: _plain_epoch_seconds(cfg, images.images, args.epochs), args.rounds,
                           steps_images)
    report("train", images=len(images.images), batch=cfg["batch_size"], precision=cfg["precision"], **result)


def bench_folder(args):
    from data import datasets, pipeline
    g_filters, d_filters = (args.folder_filters, args.folder_filters) if args.folder_filters else (128, 64)
    overrides = {"dataset": "folder", "image_size": 64, "channels": 3, "g_filters": g_filters, "d_filters": d_filters,
                 "d_batchnorm": True, "d_dropout": 0.0, "batch_size": 64, "checkpoint_every": 1000,
                 "precision": _default_precision()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp) / "jpegs", args.folder_images, 128)
        overrides.update(data_dir=str(folder), cache_dir=str(Path(tmp) / "cache"))
        from training import config
        cfg = config.load_config(overrides=overrides)
        start = time.monotonic()
        images = datasets.load_training_images(cfg)  # first epoch pays the decode
        decode = time.monotonic() - start
        in_memory = np.asarray(images.images)
        steps_images = pipeline.steps_per_epoch(len(images.images), cfg["batch_size"]) * cfg["batch_size"]

        def project():
            with tempfile.TemporaryDirectory() as root:  # epochs after the first read only the cache
                return _project_epoch_seconds(overrides, images, 2, root)

        result = _side_by_side(project, lambda: _plain_epoch_seconds(cfg, in_memory, 2), args.rounds, steps_images)
    first = steps_images / (decode + steps_images / result["project_ips"])
    report("folder", images=len(images.images), g_filters=g_filters, d_filters=d_filters,
           precision=cfg["precision"], first_epoch_ips=first,
           second_epoch_ips=result["project_ips"], in_memory_ips=result["plain_ips"], ratio=result["ratio"],
           ratio_median=result["ratio_median"], peak_rss_mb=peak_rss_mb())


def bench_memory(args):
    from training import config
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for count in (args.memory_images // 10, args.memory_images):
            folder = make_folder(Path(tmp) / f"small_{count}", count, 64, seed=count)
            cfg = config.load_config(overrides={"dataset": "folder", "data_dir": str(folder), "image_size": 64,
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
    (small, small_mb), (large, large_mb) = rows
    report("memory", images=large, peak_rss_mb=large_mb, peak_rss_mb_at_tenth=small_mb,
           growth=large_mb / small_mb)


def bench_generate(args):
    import tensorflow as tf
    from utils import imaging
    from training import sessions, state as session_state
    with tempfile.TemporaryDirectory() as tmp:
        _, cfg = _tiny_session(tmp)
        start = time.monotonic()
        subprocess.run([sys.executable, str(REPO / "generate_img.py"), "--checkpoint-root", str(Path(tmp) / "ck"),
                        "1", "100", str(args.generate_images), "--seed", "1", "--out", str(Path(tmp) / "fast")],
                       check=True, capture_output=True)
        fast = args.generate_images / (time.monotonic() - start)
        state, _ = session_state.load_session(Path(tmp) / "ck", 1)
        naive_dir = Path(tmp) / "naive"
        naive_dir.mkdir()
        count = max(1, args.generate_images // 10)  # the naive loop is timed on a tenth of the images
        start = time.monotonic()
        for i in range(count):
            image = state.ema_generator(tf.random.normal([1, cfg["noise_dim"]]), training=False).numpy()
            imaging.write_png(naive_dir / f"{i:06d}.png", imaging.to_uint8(image)[0])
        naive = count / (time.monotonic() - start)
    report("generate", images=args.generate_images, script_png_per_sec=fast, naive_png_per_sec=naive,
           ratio=fast / naive)


def _tiny_session(root):
    """A 28x28 session trained one epoch on one batch: something to generate from."""
    from training import config
    from training import loop as training, plan as training_plan
    from data.datasets import TrainingImages
    cfg = config.load_config(overrides={"dataset": "folder", "data_dir": str(root)})
    plan = training_plan.Plan(Path(root) / "ck", 1, cfg, 1)
    training.run(plan, training.build_state(plan), TrainingImages(np.zeros((128, 28, 28, 1), np.uint8), "zeros"))
    return plan.root, cfg


def bench_fid(args):
    """Real side: a folder (cached after the first call); generated side: a session, as in use."""
    with tempfile.TemporaryDirectory() as tmp:
        root, _ = _tiny_session(tmp)
        real = make_folder(Path(tmp) / "real", args.fid_images, 28, seed=1)
        command = [sys.executable, str(REPO / "compute_fid.py"), "--checkpoint-root", str(root), "--real", str(real),
                   "--fake", "1", "--weights", "random", "--num", str(args.fid_images),
                   "--num-real", str(args.fid_images), "--cache-dir", str(Path(tmp) / "cache")]
        times = []
        for _ in range(2):
            start = time.monotonic()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.monotonic() - start)
    from metrics import inception, sources
    extractor = inception.InceptionFeatures("random")
    batch = np.random.default_rng(0).integers(0, 256, (200, 64, 64, 3), dtype=np.uint8)
    extractor.statistics([batch[:50]])  # trace
    start = time.monotonic()
    extractor.statistics([batch])
    report("fid", images=args.fid_images, inception_ips=len(batch) / (time.monotonic() - start),
           first_call_s=times[0], second_call_s=times[1], ratio=times[1] / times[0])


def bench_quality(args):
    """The default Fashion-MNIST recipe trained for --quality-epochs full epochs, each epoch's
    samples scored by bench/quality.py against real test images."""
    from training import config
    import quality
    from training import loop as training, plan as training_plan
    from data.datasets import load_training_images
    cfg = config.load_config(overrides=config.parse_overrides(args.quality_set))
    with tempfile.TemporaryDirectory() as root:
        plan = training_plan.Plan(Path(root), 1, cfg, args.quality_epochs)
        training.run(plan, training.build_state(plan), load_training_images(cfg))
        model = quality.classifier()
        real, test_features = quality.reference(model, args.quality_images)
        report("quality real", images=args.quality_images, **real)
        for epoch in range(1, args.quality_epochs + 1):
            values = quality.session_scores(model, root, 1, epoch, args.quality_images, test_features)
            report(f"quality epoch={epoch}", images=args.quality_images, **values)


def bench_conditional(args):
    """A conditional Fashion-MNIST session with the default recipe: each epoch's samples (every
    class equally often) scored by bench/quality.py, with the classifier's agreement per class."""
    import quality
    from training import config
    overrides = dict(config.parse_overrides(args.quality_set), conditional=True, max_to_keep=None)  # every epoch is scored
    with runs.session_root(args, "conditional") as root:
        rows = runs.train_session(root, overrides, args.quality_epochs)
        model = quality.classifier()
        real, test_features = quality.reference(model, args.quality_images)
        report("conditional real", images=args.quality_images, **real)
        runs.copy_outputs(Path(root) / "training_1", Path(args.augment_grids) / "conditional")
        for epoch in range(1, args.quality_epochs + 1):
            values = quality.session_scores(model, root, 1, epoch, args.quality_images, test_features, raw=False)
            report(f"conditional epoch={epoch}", images=args.quality_images,
                   images_per_sec=rows[epoch - 1]["images_per_sec"], **values)


def bench_augment(args):
    """Small Fashion-MNIST subsets trained the same number of steps with and without augmentation;
    the samples scored by bench/quality.py at the end (and every --augment-score-every steps), with
    their copies of the training subset, recall and coverage, r_t and augment_p; unseen test images
    scored the same way first, as the reference. With --keep the sessions stay in
    DIR/augment_<size>_<arm> and checkpoint at every scored epoch, so a run stopped part way goes on
    from its last one when run again."""
    import quality
    from data.datasets import load_training_images
    from training import config
    from training import state as session_state
    model = quality.classifier()
    count = args.quality_images
    _, test_features = quality.reference(model, count)
    test_images, _ = quality.held_out_set()
    for size in args.augment_sizes:
        steps_per_epoch = size // 64
        epochs = -(-args.augment_steps // steps_per_epoch)  # whole epochs, at least augment_steps steps of 64
        every = -(-(args.augment_score_every or args.augment_steps) // steps_per_epoch)
        scored = sorted({*range(every, epochs, every), epochs})
        subset = {"max_images": size, "batch_size": 64}
        loaded = load_training_images(config.load_config(overrides=subset))  # the subset every arm trains on
        training_images = loaded.images
        # The last `count` test images: unlike the first, not the prdc reference (with count <= 5000).
        report(f"augment images={size} real", **quality.small_set_scores(model, test_images[-count:], training_images,
                                                                         test_features))
        for policy in args.augment_policies:
            p = 1.0 if policy == "none" else args.augment_p
            arm = f"{size}_{policy.replace(',', '+')}_{p}"
            overrides = dict(subset, augment=policy, augment_p=p, checkpoint_every=every, max_to_keep=None)
            with runs.session_root(args, f"augment_{arm}") as root:
                rows = runs.train_session(root, overrides, epochs, loaded)
                runs.copy_outputs(Path(root) / "training_1", Path(args.augment_grids) / arm)
                for epoch in scored:
                    state, _ = session_state.load_session(root, 1, epoch)
                    images, _ = quality.session_samples(state, count)
                    values = quality.small_set_scores(model, images, training_images, test_features)
                    row = rows[epoch - 1]
                    report(f"augment images={size} policy={policy} p={p}", steps=epoch * steps_per_epoch,
                           epochs=epoch, r_t=row["r_t"], final_p=row["augment_p"], **values)


def bench_usefulness(args):
    """A conditional session (trained --quality-epochs, or taken from --keep) checked as a user
    would before putting its images into a training set: compute_fid.py --prdc --copies (Inception
    features, --fid-weights), the same precision/recall/density/coverage in bench/quality.py's
    Fashion-MNIST classifier features (meaningful offline, where Inception can only be random), and
    evaluate_augmentation.py's three classifier accuracies. --fid-images images a side for
    compute_fid.py, --quality-images for the classifier's features."""
    import quality
    from metrics import prdc
    from training import config
    from training import state as session_state
    overrides = dict(config.parse_overrides(args.quality_set), conditional=True, max_to_keep=None)
    with runs.session_root(args, "conditional") as root:
        runs.train_session(root, overrides, args.quality_epochs)
        # InceptionV3 runs at about 10 img/s on two CPU cores: --fid-images a side, not --quality-images.
        inception = ["--num", str(args.fid_images), "--num-real", str(args.fid_images), "--weights", args.fid_weights]
        scripts = {"compute_fid": ["--fake", "1", "--prdc", "--copies", str(args.fid_images), *inception],
                   "evaluate_augmentation": ["1"]}
        for script, extra in scripts.items():
            out = subprocess.run([sys.executable, str(REPO / f"{script}.py"), "--checkpoint-root", root, *extra],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{script}.py failed:\n{out.stdout}{out.stderr}")
            print(out.stdout, end="", flush=True)
        model = quality.classifier()
        test_images, _ = quality.held_out_set()
        _, real_features = quality.scores(model, test_images[:args.quality_images])
        state, epoch = session_state.load_session(root, 1, args.quality_epochs)
        fake, _ = quality.session_samples(state, args.quality_images)
        _, fake_features = quality.scores(model, fake)
        values = prdc.prdc(real_features, fake_features)
        report(f"usefulness epoch={epoch} classifier_features", images=args.quality_images,
               **{name: float(getattr(values, name)) for name in ("precision", "recall", "density", "coverage")})


# Candidate recipes for `recipe`: overrides of the default config (batch 64, lr 2e-4 both). Learning
# rates scale with the batch size (linear scaling, from the paper's 128 at 2e-4) where the batch changes.
RECIPES = {
    "default": {},
    # The default when this study began, which the new default's targets are measured against.
    "batch128": {"batch_size": 128, "beta2": 0.999},
    "ttur_d4e-4_g1e-4": {"d_lr": 4e-4, "g_lr": 1e-4},
    "ttur_g4e-4_d1e-4": {"g_lr": 4e-4, "d_lr": 1e-4},
    "batch64_lr1e-4": {"batch_size": 64, "g_lr": 1e-4, "d_lr": 1e-4},
    "batch256_lr4e-4": {"batch_size": 256, "g_lr": 4e-4, "d_lr": 4e-4},
    "beta2_0.99": {"beta2": 0.99},
    "d2_g1": {"d_steps": 2},  # two D updates per G update (WGAN's n_critic)
    "d1_g2": {"g_steps": 2},  # the reverse: two G updates per D update
    "ema_warmup": {"ema_warmup": True},
    # The average only reads the training: same training as the default, a longer and warmed-up average.
    "ema0.999_warmup": {"ema_decay": 0.999, "ema_warmup": True},
    # The default's precision is auto (bfloat16 on a CPU with bfloat16 instructions); these fix it.
    "bf16": {"precision": "mixed_bfloat16"},
    "float32": {"precision": "float32"},
}


def bench_recipe(args):
    """Candidate recipes trained side by side on Fashion-MNIST: epoch by epoch in turn, so each
    one's img/s is measured beside the others', and each scored by bench/quality.py after the
    epochs in --recipe-score. With --recipe-folder N, on N Fashion-MNIST images enlarged to 64x64
    RGB and trained with configs/image_folder_64.yaml (the folder config's networks and augmentation),
    a stand-in for a small photo set that the classifier can still score."""
    import quality
    model = quality.classifier()
    _, test_features = quality.reference(model, args.quality_images)
    names = args.recipes or list(RECIPES)
    last = max(args.recipe_score)
    bench_name = "recipe64" if args.recipe_folder else "recipe"
    with runs.session_root(args, bench_name) as root:
        config_path, data = None, {}
        if args.recipe_folder:
            config_path = REPO / "configs" / "image_folder_64.yaml"
            data = {"data_dir": str(fashion_mnist_folder(Path(root) / "fashion64", args.recipe_folder, 64)),
                    "cache_dir": str(Path(root) / "cache")}
        rows = {}
        for epoch in range(1, last + 1):
            for name in names:
                overrides = dict(RECIPES[name], **data, checkpoint_every=1, max_to_keep=None)
                rows[name] = runs.train_session(Path(root) / name, overrides, epoch, config_path=config_path)
                if epoch in args.recipe_score:
                    runs.copy_outputs(Path(root) / name / "training_1", Path(args.augment_grids) / f"{bench_name}_{name}")
                    values = quality.session_scores(model, Path(root) / name, 1, epoch, args.quality_images,
                                                    test_features, raw=False)
                    speed = float(np.median([row["images_per_sec"] for row in rows[name]]))
                    report(f"{bench_name} {name} epoch={epoch}", images_per_sec=speed,
                           seconds_per_epoch=float(np.median([row["seconds"] for row in rows[name]])), **values)


BENCHES = {"train": bench_train, "folder": bench_folder, "memory": bench_memory, "generate": bench_generate,
           "fid": bench_fid, "quality": bench_quality, "conditional": bench_conditional, "augment": bench_augment,
           "recipe": bench_recipe, "usefulness": bench_usefulness}


def main():
    import colour
    import colour_augment
    import fid_reference
    own_options = {"fid-reference": fid_reference, "colour-recipe": colour, "colour-augment": colour_augment}  # benchmarks with options of their own
    if sys.argv[1:2] and sys.argv[1] in own_options:
        module = own_options[sys.argv[1]]
        parser = argparse.ArgumentParser(prog=f"bench.py {sys.argv[1]}", description=module.__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(parser)
        return module.run(parser.parse_args(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", choices=list(BENCHES) + ["all"], help="benchmarks to run")
    parser.add_argument("--train-images", type=int, default=12800, help="Fashion-MNIST images for train (default 12800)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs for train; the first is not timed (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="train and folder: alternations of the project and "
                        "the baseline; each side's fastest epoch is compared (default 2)")
    parser.add_argument("--folder-images", type=int, default=20000, help="JPEGs for folder (default 20000)")
    parser.add_argument("--folder-filters", type=int, help="g_filters and d_filters for folder (default: the "
                        "paper's 128 and 64; smaller networks make the input pipeline's share larger)")
    parser.add_argument("--memory-images", type=int, default=100000, help="images for memory (default 100000)")
    parser.add_argument("--generate-images", type=int, default=10000, help="PNGs for generate (default 10000)")
    parser.add_argument("--fid-images", type=int, default=500, help="images per side for fid and usefulness' compute_fid.py (default 500)")
    parser.add_argument("--quality-epochs", type=int, default=3, help="full Fashion-MNIST epochs for quality (default 3)")
    parser.add_argument("--quality-images", type=int, default=5000, help="images scored per epoch (default 5000)")
    parser.add_argument("--quality-set", metavar="KEY=VALUE", action="append", default=[],
                        help="config override for quality, e.g. --quality-set d_batchnorm=true (repeatable)")
    parser.add_argument("--augment-sizes", type=int, nargs="+", default=[1000, 5000],
                        help="augment: Fashion-MNIST subset sizes (default 1000 5000)")
    parser.add_argument("--augment-steps", type=int, default=1400, help="augment: steps of 64 per run (default 1400)")
    parser.add_argument("--augment-policies", nargs="+", default=["none", "color,translation,cutout"],
                        help="augment: the policies trained in turn, none for the baseline (default none "
                             "color,translation,cutout; give one to run an arm alone, e.g. beside the other)")
    parser.add_argument("--augment-p", default="1.0", help="augment: augment_p of the augmented runs (default 1.0; auto)")
    parser.add_argument("--augment-score-every", type=int, metavar="STEPS",
                        help="augment: also score every STEPS steps, not only at the end")
    parser.add_argument("--augment-grids", default=str(REPO / "bench" / "grids"),
                        help="conditional, augment and recipe: where each session's epoch grids, metrics.csv and "
                        "losses.png are copied (default bench/grids)")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), help="recipe: candidates (default: all)")
    parser.add_argument("--recipe-score", type=int, nargs="+", default=[1, 3, 10],
                        help="recipe: epochs after which every candidate is scored (default 1 3 10)")
    parser.add_argument("--recipe-folder", type=int, metavar="N", help="recipe: train on N Fashion-MNIST images "
                        "enlarged to 64x64 RGB with configs/image_folder_64.yaml, instead of all of them at 28x28")
    parser.add_argument("--fid-weights", default="standard", help="usefulness: compute_fid.py's --weights "
                        "(standard, a local copy of its .pth, e.g. the one fid-reference writes, or random)")
    parser.add_argument("--keep", metavar="DIR", help="conditional, recipe, usefulness and augment: keep the sessions in DIR/<bench> "
                        "(default: a temporary folder, removed afterwards)")
    args = parser.parse_args()
    for name in BENCHES if "all" in args.names else args.names:
        BENCHES[name](args)


if __name__ == "__main__":
    main()
