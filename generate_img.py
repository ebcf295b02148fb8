"""Generate images with a trained session's generator.

    python generate_img.py 2 100 16                  # session 2 (noise_dim 100): 16 PNGs in
                                                     # checkpoints/training_2/generated/
    python generate_img.py 2 100 5000 --seed 7 --out data/augmented/sneaker

A conditional session writes NUM images of each class, into OUT/<class>/ (the class name with / and
\\ made _, e.g. OUT/T-shirt_top/); --class NAME (repeatable, a name or an index) picks some:

    python generate_img.py 4 100 1000 --seed 7 --out data/synthetic --class Sneaker --class 8

--balance tops every class up to NUM images, its training images included (a class with 25 gets
NUM - 25, a class with NUM or more gets none); the plan is printed before anything is written:

    python generate_img.py 4 100 500 --balance --out data/balanced

--reject-copies drops generated images that are near-copies of training images (in Inception
features, and in pixels for images of 64x64 or less) and generates on until NUM pass.

Images are numbered img_000001.png, ...; a folder that already holds some gets the following
numbers, never overwrites. A preview grid of the first 64 (of a conditional session: 8 of each
class, a row per class) goes to the session's grid.png.
"""
import argparse
import secrets
import sys
from pathlib import Path

from utils import cli
from utils.errors import UserError

MAX_SEED = 2**63 - 1


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("training", metavar="TRAINING",
                        help="session number N: the session lives in CHECKPOINT_ROOT/training_N/")
    parser.add_argument("noise_dim", metavar="NOISE_DIM",
                        help="the session's noise dimension (noise_dim in its config.yaml); checked, not changed")
    parser.add_argument("num", metavar="NUM", help="number of images to generate")
    parser.add_argument("--epoch", metavar="E",
                        help="use the checkpoint of epoch E (default: the newest)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for the PNGs, created if missing (default: CHECKPOINT_ROOT/training_N/generated)")
    parser.add_argument("--grid", metavar="FILE",
                        help="where the preview grid of the first 64 images goes, replaced on each run "
                             "(default: CHECKPOINT_ROOT/training_N/grid.png; never inside --out)")
    parser.add_argument("--seed", metavar="S",
                        help="seed of the latent vectors: the same session, epoch, seed and batch size give "
                             "identical files (default: a fresh random seed, printed)")
    parser.add_argument("--class", metavar="NAME", dest="classes", action="append",
                        help="conditional sessions: generate this class only (its name, its folder name or its "
                             "index; repeat for more; default: every class)")
    parser.add_argument("--batch-size", metavar="B", default="256",
                        help="images per generator call; also part of what --seed reproduces (default: 256)")
    parser.add_argument("--balance", action="store_true",
                        help="conditional sessions: top every class up to NUM images, its training images included "
                             "(a class with NUM or more gets none); the plan is printed first")
    parser.add_argument("--real-counts", metavar="NAME=COUNT", nargs="+",
                        help="with --balance, for a session that did not store its training images per class and "
                             "whose data cannot be read: NAME=COUNT for each class, or one count per class in "
                             "class order")
    parser.add_argument("--reject-copies", action="store_true",
                        help="drop generated images that are near-copies of training images and generate on until "
                             "NUM pass; the dropped pairs go to a grid beside the preview grid")
    parser.add_argument("--copy-percentile", metavar="P", type=float,
                        help="with --reject-copies: a near-copy's nearest training image is closer than this "
                             "percentile of the training images' own nearest-neighbour distances (default: "
                             "PERCENTILE in metrics/near_copies.py, measured with bench/copy_filter.py; printed)")
    parser.add_argument("--weights", metavar="WEIGHTS",
                        help="with --reject-copies: the Inception weights, as compute_fid.py --weights (standard, "
                             "a local copy of its .pth, imagenet; default standard)")
    parser.add_argument("--inception-size", metavar="SIZE", type=cli.count_type(minimum=75),
                        help="with --reject-copies: the Inception input size, as compute_fid.py (default 299)")
    cli.add_checkpoint_root(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    number = cli.parse_count(args.training, "TRAINING (the session number)")
    noise_dim = cli.parse_count(args.noise_dim, "NOISE_DIM", minimum=1)
    count = cli.parse_count(args.num, "NUM (the number of images)", minimum=1)
    epoch = None if args.epoch is None else cli.parse_count(args.epoch, "--epoch", minimum=1)
    batch_size = cli.parse_count(args.batch_size, "--batch-size", minimum=1)
    seed = secrets.randbelow(2**31) if args.seed is None else cli.parse_count(args.seed, "--seed")
    if seed > MAX_SEED:
        raise UserError(f"--seed must be at most {MAX_SEED}, got {seed}.")
    _check_options(args)
    try:
        return _run(args, number, noise_dim, count, epoch, batch_size, seed)
    except KeyboardInterrupt:  # while TensorFlow loads; generation itself reports how far it got
        print("\nInterrupted. Every file written so far is complete.", file=sys.stderr)
        return 130


def _run(args, number, noise_dim, count, epoch, batch_size, seed):
    # Plain Python: a wrong session or class is answered without loading TensorFlow.
    from generation import classes as class_lib
    from training import sessions

    session = sessions.find_session(args.checkpoint_root, number)
    cfg = sessions.read_stored_config(session)
    chosen = class_lib.choose(cfg["class_names"] if cfg["conditional"] else None, args.classes, number)
    weights = None
    if args.reject_copies:
        from metrics import inception
        weights = inception.check_weights(args.weights or inception.STANDARD)
    counts = count
    if args.balance:
        counts = _balance_plan(args, session, cfg, chosen, count, number)
        if not sum(counts):
            print(f"Every class already has {count} or more images: nothing to generate.")
            return 0
    # Imported after the arguments are checked, so mistakes are answered without loading TensorFlow.
    cli.load_tensorflow()
    from generation import writer as generation
    from training import state as session_state

    generation.check_noise_dim(cfg, noise_dim, number)
    out_dir = args.out or session / "generated"
    grid_path = args.grid or session / "grid.png"
    generation.check_paths(out_dir, grid_path)
    rejected_path = Path(grid_path).with_name(f"{Path(grid_path).stem}_rejected.png")
    if chosen is not None:
        folders = class_lib.class_folders(cfg["class_names"], number)
        generation.check_class_folders(out_dir, [folders[i] for i in chosen])
    state, epoch = session_state.load_session(args.checkpoint_root, number, epoch)
    repeat = "" if args.seed is not None else f" (repeat this run with --seed {seed})"
    print(f"Session {number}, epoch {epoch}, seed {seed}{repeat}, batch size {batch_size}")
    screen = _copy_filter(args, cfg, weights) if args.reject_copies else None

    run = generation.generate_run(state, counts, seed, out_dir, grid_path, chosen, batch_size, screen)
    print(run.report())
    if screen is not None:
        _report_copies(screen, cfg, rejected_path)
    return 130 if run.interrupted else 0


def _check_options(args):
    """Options that only mean something beside another one, refused before anything is read."""
    dependent = {"--real-counts": (args.real_counts, "--balance", args.balance)}
    for option in ("--copy-percentile", "--weights", "--inception-size"):
        dependent[option] = (getattr(args, option[2:].replace("-", "_")), "--reject-copies", args.reject_copies)
    for option, (value, needs, given) in dependent.items():
        if value is not None and not given:
            raise UserError(f"{option} only works with {needs}: add {needs}, or drop {option}.")
    if args.copy_percentile is not None and not 0 < args.copy_percentile < 100:
        raise UserError(f"--copy-percentile must be above 0 and below 100, got {args.copy_percentile:g}.")


def _balance_plan(args, session, cfg, chosen, count, number):
    """Images to generate for each class in `chosen`, after the plan is printed: NUM less its
    training images (given, stored in the session, or counted in its data)."""
    from generation import balance
    from generation.classes import folder_name
    from training import sessions
    if not cfg["conditional"]:
        raise UserError(f"Session {number} was trained without classes (not conditional): --balance tops classes "
                        f"up, and it has none. Drop --balance to write NUM images.")
    names = cfg["class_names"]
    if args.real_counts:
        real = balance.parse_real_counts(args.real_counts, names, number)
    else:
        real = sessions.read_class_counts(session, names)
    if real is None:
        try:
            from metrics import classes  # only here: it decodes the data, TensorFlow may load
            real = classes.training_class_counts(cfg)
        except UserError as e:
            raise UserError(f"Session {number} was trained before sessions stored their training images per class "
                            f"({sessions.CLASS_COUNTS_FILE}), and its data cannot be read to count them ({e}). "
                            "Pass the counts: --real-counts NAME=COUNT for each class (e.g. "
                            f"--real-counts {folder_name(names[0])}=6000), or one count per class in "
                            "class order.") from None
    real = [real[i] for i in chosen]
    generated = balance.top_up(real, count)
    for line in balance.plan_lines([names[i] for i in chosen], real, generated, count):
        print(line)
    return generated


def _copy_filter(args, cfg, weights):
    from metrics import inception, near_copies
    size = inception.INCEPTION_SIZE if args.inception_size is None else args.inception_size
    extractor = inception.InceptionFeatures(weights, size)
    percentile = near_copies.PERCENTILE if args.copy_percentile is None else args.copy_percentile
    reference = near_copies.reference(cfg, extractor, percentile)
    limits = ", ".join(f"{space.name} {space.threshold:.4g}" for space in reference.spaces)
    print(f"Copy check: against the {len(reference)} training images with {extractor.description}; a near-copy is "
          f"closer to one than percentile {percentile:g} of their own nearest-neighbour distances ({limits}) "
          f"and than {near_copies.RELATIVE:g} x the mean distance to its next {near_copies.K - 1}.")
    return near_copies.Filter(reference, extractor)


def _report_copies(screen, cfg, path):
    from data import datasets
    from generation import writer as generation
    print("Copy check:")
    for line in screen.report_lines():
        print(line)
    grid = screen.grid(lambda: datasets.load_training_images(cfg).images)
    if grid is None:
        print("No image was dropped, so no grid of dropped pairs was written.")
        return
    generation.write_grid(grid, path)
    print(f"The closest dropped pairs (generated left, nearest training image right, closest first) are in {path}.")


if __name__ == "__main__":
    cli.run(main)
