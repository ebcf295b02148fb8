"""The sample benchmarks on Fashion-MNIST: quality, conditional, augment, recipe and usefulness
(bench.py runs them; see bench/README.md). Samples are scored by bench/quality.py's classifier.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import quality
import runs
from quality import report

REPO = Path(__file__).resolve().parent.parent


def _add_session_options(parser):
    """The options of a benchmark that trains the default recipe and scores its epochs."""
    parser.add_argument("--epochs", type=int, default=3, help="full Fashion-MNIST epochs (default 3)")
    parser.add_argument("--images", type=int, default=5000, help="images scored per epoch (default 5000)")
    runs.add_set(parser)


def quality_arguments(parser):
    _add_session_options(parser)


def quality_bench(args):
    """The default recipe's samples scored after each epoch.

    The default Fashion-MNIST recipe trained for --epochs full epochs, each epoch's samples
    (averaged and raw generator) scored by bench/quality.py against real test images."""
    from training import config
    overrides = dict(config.parse_overrides(args.set), max_to_keep=None)  # every epoch is scored
    with runs.session_root(None, "quality") as root:
        runs.train_session(root, overrides, args.epochs)
        model = quality.classifier()
        real, test_features = quality.reference(model, args.images)
        report("quality real", images=args.images, **real)
        for epoch in range(1, args.epochs + 1):
            values = quality.session_scores(model, root, 1, epoch, args.images, test_features)
            report(f"quality epoch={epoch}", images=args.images, **values)


def conditional_arguments(parser):
    _add_session_options(parser)
    runs.add_grids(parser)
    runs.add_keep(parser)


def conditional(args):
    """A conditional session's samples per epoch, with agreement per class.

    A conditional Fashion-MNIST session with the default recipe: each epoch's samples (every
    class equally often) scored by bench/quality.py, with the classifier's agreement per class."""
    from training import config
    overrides = dict(config.parse_overrides(args.set), conditional=True, max_to_keep=None)  # every epoch is scored
    with runs.session_root(args.keep, "conditional") as root:
        rows = runs.train_session(root, overrides, args.epochs)
        model = quality.classifier()
        real, test_features = quality.reference(model, args.images)
        report("conditional real", images=args.images, **real)
        runs.copy_outputs(Path(root) / "training_1", Path(args.grids) / "conditional")
        for epoch in range(1, args.epochs + 1):
            values = quality.session_scores(model, root, 1, epoch, args.images, test_features, raw=False)
            report(f"conditional epoch={epoch}", images=args.images,
                   images_per_sec=rows[epoch - 1]["images_per_sec"], **values)


def augment_arguments(parser):
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000],
                        help="Fashion-MNIST subset sizes (default 1000 5000)")
    parser.add_argument("--steps", type=int, default=1400, help="steps of 64 per run (default 1400)")
    parser.add_argument("--policies", nargs="+", default=["none", "color,translation,cutout"],
                        help="the policies trained in turn, none for the baseline (default none "
                             "color,translation,cutout; give one to run an arm alone, e.g. beside the other)")
    parser.add_argument("--p", default="1.0", help="augment_p of the augmented runs (default 1.0; auto)")
    parser.add_argument("--score-every", type=int, metavar="STEPS", help="also score every STEPS steps, not only at the end")
    parser.add_argument("--images", type=int, default=5000, help="images scored each time (default 5000)")
    runs.add_grids(parser)
    runs.add_keep(parser)


def augment(args):
    """Small subsets with and without augmentation, at equal steps.

    Small Fashion-MNIST subsets trained the same number of steps with and without augmentation;
    the samples scored by bench/quality.py at the end (and every --score-every steps), with their
    copies of the training subset, recall and coverage, r_t and augment_p; unseen test images scored
    the same way first, as the reference. With --keep the sessions stay in DIR/augment_<size>_<arm>
    and checkpoint at every scored epoch, so a run stopped part way goes on from its last one when
    run again."""
    from data.datasets import load_training_images
    from training import config
    from training import state as session_state
    model = quality.classifier()
    count = args.images
    _, test_features = quality.reference(model, count)
    test_images, _ = quality.held_out_set()
    for size in args.sizes:
        steps_per_epoch = size // 64
        epochs = -(-args.steps // steps_per_epoch)  # whole epochs, at least --steps steps of 64
        every = -(-(args.score_every or args.steps) // steps_per_epoch)
        scored = sorted({*range(every, epochs, every), epochs})
        subset = {"max_images": size, "batch_size": 64}
        loaded = load_training_images(config.load_config(overrides=subset))  # the subset every arm trains on
        training_images = loaded.images
        # The last `count` test images: unlike the first, not the prdc reference (with count <= 5000).
        report(f"augment images={size} real", **quality.small_set_scores(model, test_images[-count:], training_images,
                                                                         test_features))
        for policy in args.policies:
            p = 1.0 if policy == "none" else args.p
            arm = f"{size}_{policy.replace(',', '+')}_{p}"
            overrides = dict(subset, augment=policy, augment_p=p, checkpoint_every=every, max_to_keep=None)
            with runs.session_root(args.keep, f"augment_{arm}") as root:
                rows = runs.train_session(root, overrides, epochs, loaded)
                runs.copy_outputs(Path(root) / "training_1", Path(args.grids) / arm)
                for epoch in scored:
                    state, _ = session_state.load_session(root, 1, epoch)
                    images, _ = quality.session_samples(state, count)
                    values = quality.small_set_scores(model, images, training_images, test_features)
                    row = rows[epoch - 1]
                    report(f"augment images={size} policy={policy} p={p}", steps=epoch * steps_per_epoch,
                           epochs=epoch, r_t=row["r_t"], final_p=row["augment_p"], **values)


def usefulness_arguments(parser):
    _add_session_options(parser)
    parser.add_argument("--num", type=int, default=500, help="images a side for compute_fid.py (default 500)")
    runs.add_weights(parser)
    runs.add_keep(parser)


def usefulness(args):
    """A conditional session's PRDC, copies and classifier accuracies.

    A conditional session (trained --epochs, or taken from --keep) checked as a user would before
    putting its images into a training set: compute_fid.py --prdc --copies (Inception features,
    --weights), the same precision/recall/density/coverage in bench/quality.py's Fashion-MNIST
    classifier features (meaningful offline, where Inception can only be random), and
    evaluate_augmentation.py's three classifier accuracies. --num images a side for
    compute_fid.py, --images for the classifier's features."""
    from metrics import prdc
    from training import config
    from training import state as session_state
    overrides = dict(config.parse_overrides(args.set), conditional=True, max_to_keep=None)
    with runs.session_root(args.keep, "conditional") as root:
        runs.train_session(root, overrides, args.epochs)
        # InceptionV3 runs at about 10 img/s on two CPU cores: --num a side, not --images.
        inception = ["--num", str(args.num), "--num-real", str(args.num), "--weights", args.weights]
        scripts = {"compute_fid": ["--fake", "1", "--prdc", "--copies", str(args.num), *inception],
                   "evaluate_augmentation": ["1"]}
        for script, extra in scripts.items():
            out = subprocess.run([sys.executable, str(REPO / f"{script}.py"), "--checkpoint-root", root, *extra],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{script}.py failed:\n{out.stdout}{out.stderr}")
            print(out.stdout, end="", flush=True)
        model = quality.classifier()
        test_images, _ = quality.held_out_set()
        _, real_features = quality.scores(model, test_images[:args.images])
        state, epoch = session_state.load_session(root, 1, args.epochs)
        fake, _ = quality.session_samples(state, args.images)
        _, fake_features = quality.scores(model, fake)
        values = prdc.prdc(real_features, fake_features)
        report(f"usefulness epoch={epoch} classifier_features", images=args.images,
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


def fashion_mnist_folder(folder, count, size):
    """A folder of `count` Fashion-MNIST training images (a seeded subset) as size x size RGB PNGs;
    an existing one is reused."""
    if folder.is_dir() and len(list(folder.glob("*.png"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    images, _ = quality.training_set()
    for i, index in enumerate(np.random.default_rng(0).permutation(len(images))[:count]):
        Image.fromarray(images[index, :, :, 0]).convert("RGB").resize((size, size), Image.Resampling.BICUBIC) \
            .save(folder / f"{i:05d}.png")
    return folder


def recipe_arguments(parser):
    parser.add_argument("--candidates", nargs="+", choices=list(RECIPES), help="recipes to compare (default: all)")
    parser.add_argument("--score", type=int, nargs="+", default=[1, 3, 10],
                        help="epochs after which every candidate is scored (default 1 3 10)")
    parser.add_argument("--folder", type=int, metavar="N", help="train on N Fashion-MNIST images enlarged to "
                        "64x64 RGB with configs/image_folder_64.yaml, instead of all of them at 28x28")
    parser.add_argument("--images", type=int, default=5000, help="images scored per candidate (default 5000)")
    runs.add_grids(parser)
    runs.add_keep(parser)


def recipe(args):
    """Candidate recipes side by side, scored after the epochs in --score.

    Candidate recipes trained side by side on Fashion-MNIST: epoch by epoch in turn, so each
    one's img/s is measured beside the others', and each scored by bench/quality.py after the
    epochs in --score. With --folder N, on N Fashion-MNIST images enlarged to 64x64 RGB and trained
    with configs/image_folder_64.yaml (the folder config's networks and augmentation), a stand-in
    for a small photo set that the classifier can still score."""
    model = quality.classifier()
    _, test_features = quality.reference(model, args.images)
    names = args.candidates or list(RECIPES)
    last = max(args.score)
    bench_name = "recipe64" if args.folder else "recipe"
    with runs.session_root(args.keep, bench_name) as root:
        config_path, data = None, {}
        if args.folder:
            config_path = REPO / "configs" / "image_folder_64.yaml"
            data = {"data_dir": str(fashion_mnist_folder(Path(root) / "fashion64", args.folder, 64)),
                    "cache_dir": str(Path(root) / "cache")}
        rows = {}
        for epoch in range(1, last + 1):
            for name in names:
                overrides = dict(RECIPES[name], **data, checkpoint_every=1, max_to_keep=None)
                rows[name] = runs.train_session(Path(root) / name, overrides, epoch, config_path=config_path)
                if epoch in args.score:
                    runs.copy_outputs(Path(root) / name / "training_1", Path(args.grids) / f"{bench_name}_{name}")
                    values = quality.session_scores(model, Path(root) / name, 1, epoch, args.images,
                                                    test_features, raw=False)
                    speed = float(np.median([row["images_per_sec"] for row in rows[name]]))
                    report(f"{bench_name} {name} epoch={epoch}", images_per_sec=speed,
                           seconds_per_epoch=float(np.median([row["seconds"] for row in rows[name]])), **values)


# name: (add_arguments(parser), run(args)), for bench.py
BENCHES = {"quality": (quality_arguments, quality_bench), "conditional": (conditional_arguments, conditional),
           "augment": (augment_arguments, augment), "recipe": (recipe_arguments, recipe),
           "usefulness": (usefulness_arguments, usefulness)}
