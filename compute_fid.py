"""Fréchet Inception Distance (and KID, precision and recall, a copy check) of generated images.

    python compute_fid.py                              # newest session vs its own training data
    python compute_fid.py --real data/hands --fake checkpoints/training_2/generated
    python compute_fid.py --sessions 1 2 3 --num 10000 # one row per session, sorted by FID
    python compute_fid.py --prdc --copies 1000         # also precision/recall, and training images copied?
    python compute_fid.py --per-class --num 5000       # a conditional session: also the FID of each class

--real and --fake each take an image folder, a dataset name (fashion_mnist, mnist), a folder with
IDX files or a .npz statistics file; --fake also takes a session number N, whose newest
checkpoint generates --num images in memory (of a conditional session: its classes in the training
set's proportions). Without --real, the real set is the session's own training data. Images are
brought to the session's image size (--image-size when no session is involved), then resized
bilinearly to 299x299 for the 2015 FID Inception network (the one TTUR, pytorch-fid and
StyleGAN2-ADA use), so values compare with published tables at equal image counts (10k or 50k
generated images against a named split). Lower is better. --per-class adds the FID within each class of a
conditional session: --num generated images of the class against its training images.
Prints 'FID: <value>' (and 'KID: <mean> ± <std>', 'precision: P' ... 'coverage: C', 'copies: S').
"""
import argparse
from pathlib import Path

from metrics import classes, inception, memorisation, report, sides, sources
from training import sessions
from utils import cli
from utils.errors import UserError

COPIES_GRID = "copies.png"  # in the session folder
PER_CLASS_TABLE = "fid_per_class"  # .csv and .md in the session folder
SESSIONS_TABLE = "fid_sessions"  # .csv and .md in the checkpoint root


def session_or_source(text):
    """--real/--fake: a session number as an int (which --real refuses), a folder, dataset or .npz as text."""
    return int(text) if text.isdecimal() else text


def parse_args(argv):
    count = cli.count_type
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", metavar="SOURCE", type=session_or_source,
                        help="real images: image folder, dataset name, IDX folder or .npz statistics "
                             "(default: the session's own training data)")
    parser.add_argument("--fake", metavar="SOURCE", type=session_or_source,
                        help="generated images: session number, image folder, dataset name or .npz statistics "
                             "(default: the newest session, i.e. the highest number)")
    parser.add_argument("--sessions", nargs="+", metavar="N", type=count(),
                        help="compare these sessions (each at its newest checkpoint): a table sorted by FID")
    parser.add_argument("--num", metavar="N", type=count(minimum=2), default=10000,
                        help="images generated per session, or the most used of a --fake folder (default 10000)")
    parser.add_argument("--num-real", metavar="N", type=count(), default=10000,
                        help="real images used, a fixed seeded subset of larger sets; 0 = all (default 10000)")
    parser.add_argument("--seed", metavar="SEED", type=count(), default=0,
                        help="seed of the generator's noise (default 0)")
    parser.add_argument("--kid", action="store_true",
                        help="also print the unbiased Kernel Inception Distance (100 subsets of up to 1000)")
    parser.add_argument("--prdc", action="store_true",
                        help="also print improved precision and recall (k=3) and density and coverage (k=5)")
    parser.add_argument("--copies", metavar="N", type=count(minimum=1), default=None,
                        help="check N of the generated images for copies of real ones: the share closer to a "
                             "real image than real images are to each other, and a grid of the closest pairs")
    parser.add_argument("--copies-grid", metavar="FILE", default=None,
                        help="where --copies writes its grid (.png; default: copies.png in the session folder; "
                             "needed when --fake is not a session)")
    parser.add_argument("--per-class", action="store_true",
                        help="a conditional session: also the FID of each class, --num generated images of it "
                             "against its training images (up to --num-real), as a table (CSV and Markdown)")
    parser.add_argument("--weights", metavar="WEIGHTS", default=inception.STANDARD,
                        help="standard: the FID Inception network's weights (pytorch-fid's "
                             "pt_inception-2015-12-05-6726825d.pth, downloaded once into ~/.keras/models; default), "
                             "or the path of a local copy; imagenet: Keras' ImageNet InceptionV3 (or the path of a "
                             "local inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5), which compares runs of "
                             "this tool only; 'random' is for tests only")
    parser.add_argument("--inception-size", metavar="SIZE", type=count(minimum=inception.MIN_INCEPTION_SIZE),
                        default=inception.INCEPTION_SIZE,
                        help=f"side images are resized to before InceptionV3 (default {inception.INCEPTION_SIZE}, "
                             f"at least {inception.MIN_INCEPTION_SIZE})")
    parser.add_argument("--image-size", metavar="SIZE", type=count(minimum=8), default=None,
                        help="size image folders and datasets are decoded at when no session is involved "
                             f"(default {sources.FOLDER_SIZE}; with a session, its image_size)")
    parser.add_argument("--batch-size", metavar="N", type=count(minimum=1), default=50,
                        help="images per InceptionV3 batch (default 50)")
    parser.add_argument("--cache-dir", metavar="DIR", default=None,
                        help="where statistics of image folders and datasets (not of generated images) are cached "
                             "(default: fid/ under the session's cache_dir, else $DCGAN_CACHE_DIR, else "
                             "data/.cache: where training caches them)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached statistics")
    parser.add_argument("--save-stats-real", metavar="FILE", help="write the real side's statistics to FILE (.npz)")
    parser.add_argument("--save-stats-fake", metavar="FILE", help="write the fake side's statistics to FILE (.npz)")
    parser.add_argument("--table", metavar="PREFIX",
                        help="with --sessions or --per-class: write PREFIX.csv and PREFIX.md (default "
                             f"CHECKPOINT_ROOT/{SESSIONS_TABLE}, or {PER_CLASS_TABLE} in the session folder)")
    cli.add_checkpoint_root(parser)
    return parser.parse_args(argv)


def refusals(args):
    """(refused, why) for each combination of options that the three modes (one pair of sides,
    --sessions, --per-class) do not take, in the order they are checked."""
    # A folder, dataset or .npz as --fake brings no session: no training data to be the real side, no
    # session folder for the copies grid.
    fake_is_a_set = isinstance(args.fake, str)
    return [
        (args.copies is not None and args.copies > args.num,
         f"--copies {args.copies} is more than --num {args.num}: the copy check looks at the images FID measures. "
         "Lower --copies or raise --num."),
        (args.copies_grid and args.copies is None,
         "--copies-grid is where --copies N writes its grid: pass --copies N too, or drop --copies-grid."),
        (args.copies_grid and args.sessions,
         f"--copies-grid is for one comparison; with --sessions each session's grid goes into its folder as "
         f"{COPIES_GRID}. Drop --copies-grid."),
        (args.per_class and (args.sessions or args.real is not None or fake_is_a_set),
         "--per-class compares one session's images of each class with its own training images of that class: "
         "pass the session as --fake N (or nothing, for the newest), without --real or --sessions."),
        (args.sessions and (args.fake is not None or args.save_stats_fake or args.save_stats_real),
         "--sessions compares each session's generator with one real set: it does not combine with --fake, "
         "--save-stats-real or --save-stats-fake."),
        (args.table and not args.sessions and not args.per_class,
         "--table is for --sessions and --per-class; a single comparison prints its result."),
        (isinstance(args.real, int),
         f"--real {args.real}: session numbers go to --fake; a session's real set is its own training data unless "
         "--real names a folder, a dataset or a .npz file."),
        (fake_is_a_set and args.real is None,
         "--real is needed when --fake is not a session number: pass the real image folder, dataset name or .npz "
         "statistics."),
        (fake_is_a_set and args.copies is not None and not args.copies_grid,
         "--copies with a --fake folder or dataset needs --copies-grid FILE for its grid of the closest pairs (a "
         "session's grid goes into the session folder)."),
    ]


def check_args(args):
    """Refuses what no mode takes, and output files whose folder does not exist, before TensorFlow loads."""
    for refused, why in refusals(args):
        if refused:
            raise UserError(why)
    for path in (args.save_stats_real, args.save_stats_fake, args.table, args.copies_grid):
        if path and not Path(path).expanduser().resolve().parent.is_dir():
            raise UserError(f"{path}: the folder {Path(path).parent} does not exist. Create it first.")
    return args


def main(argv=None, extractor=None):
    args = check_args(parse_args(argv))
    cli.load_tensorflow()
    inception.check_weights(args.weights)  # before sessions and images are loaded
    if args.sessions:
        return compare_sessions(args, extractor)
    return compare_pair(args, extractor)


def stats_cache(args, cfg=None):
    """Where statistics are cached: --cache-dir, else fid/ under the session's cache root (its
    cache_dir key, else $DCGAN_CACHE_DIR, else data/.cache), where training caches them."""
    if args.no_cache:
        return None
    return Path(args.cache_dir) if args.cache_dir else sources.stats_cache((cfg or {}).get("cache_dir"))


def load_session(args, number):
    """(number, the session's state at its newest checkpoint, that epoch); number None: the newest session."""
    # Imported here, not at the top: training.state loads TensorFlow, which waits until the arguments
    # are checked and cli.load_tensorflow has kept its start-up lines off the terminal.
    from training import state
    if number is None:
        known = sessions.session_numbers(args.checkpoint_root)
        if not known:
            raise UserError(f"There are no sessions under {args.checkpoint_root}. Train one first "
                            "(python DCGAN_train.py 1 EPOCHS), or pass --real and --fake.")
        number = max(known)
    loaded, epoch = state.load_session(args.checkpoint_root, number)
    return number, loaded, epoch


def image_shape(args, cfg):
    """(size, channels) image sets are brought to: the session's, or --image-size in RGB."""
    if cfg is None:
        return args.image_size or sources.FOLDER_SIZE, 3
    if args.image_size is not None and args.image_size != cfg["image_size"]:
        raise UserError(f"--image-size {args.image_size} differs from the session's image_size {cfg['image_size']}: "
                        "with a session, image sets are decoded at its size. Drop --image-size.")
    return cfg["image_size"], cfg["channels"]


def training_set(args, number, state):
    """A conditional session's training images with their labels, else None."""
    if args.per_class and not state.class_names:
        raise UserError(f"--per-class needs a conditional session, and session {number} was trained without "
                        "classes. Drop --per-class, or train with --set conditional=true on a labelled set.")
    return classes.training_set(state.cfg) if state.class_names else None


def session_side(number, state, epoch, args, loaded=None):
    """loaded: a conditional session's training set, whose class shares its images get."""
    labels = None if loaded is None else classes.generated_labels(loaded.labels, len(loaded.class_names), args.num,
                                                                   args.seed)
    shares = "" if loaded is None else ", classes in the training set's proportions"
    return sides.generated(f"session {number} at epoch {epoch} (seed {args.seed}{shares})", state.ema_generator,
                           state.cfg, args.num, args.seed, labels)


def real_side(args, cfg, loaded=None):
    cache_dir = stats_cache(args, cfg)
    if args.real is not None:
        return sides.named(args.real, *image_shape(args, cfg), args.num_real, cache_dir, args.copies is not None)
    return sides.image_set(sources.training_source(cfg, args.num_real, loaded), cache_dir)


def make_extractor(args, extractor):
    if extractor is None:
        extractor = inception.InceptionFeatures(args.weights, args.inception_size, args.batch_size)
    print(f"Features: {extractor.description}.", flush=True)
    return extractor


def write_copies(checked, path):
    memorisation.save_grid(path, checked.grid)
    print(f"The closest pairs (generated left, nearest real right) are in {path}.")


def compare_pair(args, extractor):
    number = state = epoch = loaded = None
    if args.fake is None or isinstance(args.fake, int):
        number, state, epoch = load_session(args, args.fake)
        loaded = training_set(args, number, state)
        fake = session_side(number, state, epoch, args, loaded)
    else:
        fake = sides.named(args.fake, *image_shape(args, None), args.num, stats_cache(args), args.copies is not None)
    real = real_side(args, state.cfg if state else None, loaded)
    extractor = make_extractor(args, extractor)
    (real_stats, fake_stats), values, checked = report.measure([real, fake], extractor, args.kid, args.prdc,
                                                               args.copies)
    for path, stats, side in ((args.save_stats_real, real_stats, real), (args.save_stats_fake, fake_stats, fake)):
        if path:
            sources.save_stats(path, stats, {"features": extractor.identity, "source": side.label})
            print(f"Statistics of {side.label} written to {path}.")
    if checked is not None:
        write_copies(checked, args.copies_grid or sessions.session_dir(args.checkpoint_root, number) / COPIES_GRID)
    print("\n".join(report.result_lines(values)))
    if args.per_class:
        write_per_class(args, number, state, loaded, (real_stats.count, fake_stats.count, values["FID"]), extractor)
    return 0


def write_per_class(args, number, state, loaded, overall, extractor):
    """Prints the FID of each class as it is measured, then writes the table with the overall row."""
    rows = []
    for row in classes.per_class_fid(state.ema_generator, state.cfg, loaded, extractor, args.num, args.num_real,
                                     args.seed, stats_cache(args, state.cfg)):
        name, real, made, value = row
        shown = "no FID" if value is None else f"FID {value:.6g}"
        print(f"class {name}: {shown}  ({real} real, {made} generated)", flush=True)
        rows.append(row)
    columns, table = report.class_table(rows, overall)
    prefix = Path(args.table) if args.table else sessions.session_dir(args.checkpoint_root, number) / PER_CLASS_TABLE
    report.write_table(prefix, columns, table, report.to_markdown(columns, table))
    print(f"Per-class table written to {prefix}.csv and {prefix}.md.")


def compare_sessions(args, extractor):
    loaded = [load_session(args, number) for number in args.sessions]  # every session checked before any work
    trainings = [training_set(args, number, state) for number, state, _ in loaded]
    reals = [real_side(args, state.cfg, training) for (_, state, _), training in zip(loaded, trainings)]
    extractor = make_extractor(args, extractor)
    rows = []
    for (number, state, epoch), real, training in zip(loaded, reals, trainings):
        _, values, checked = report.measure([real, session_side(number, state, epoch, args, training)], extractor,
                                            args.kid, args.prdc, args.copies)
        if checked is not None:
            write_copies(checked, sessions.session_dir(args.checkpoint_root, number) / COPIES_GRID)
        print(f"Session {number}, epoch {epoch}: " + "  ".join(report.result_lines(values)), flush=True)
        rows.append({"session": number, "epoch": epoch, "cfg": state.cfg, "values": values})
    columns, table = report.session_table(rows)
    markdown = report.to_markdown(columns, table)
    print("\n" + markdown)
    prefix = Path(args.table) if args.table else Path(args.checkpoint_root) / SESSIONS_TABLE
    report.write_table(prefix, columns, table, markdown)
    print(f"Table written to {prefix}.csv and {prefix}.md.")
    return 0


if __name__ == "__main__":
    cli.run(main)
