"""Does a classifier get better with a session's generated images? Three settings, one real test set.

    python evaluate_augmentation.py 2                    # conditional session 2 (one for every class)
    python evaluate_augmentation.py --sessions 3 4 5     # unconditional sessions, one per class:
                                                         # class i is the i-th session
    python evaluate_augmentation.py 2 --real-per-class 50 --synthetic-per-class 2000 --repeats 5
    python evaluate_augmentation.py 2 --real-counts 500 500 500 500 500 500 500 25 25 25   # imbalanced
    python evaluate_augmentation.py 2 --real-counts all  # imbalanced: every image the session trained on

A small CNN is trained on: real (K real training images per class), real+synthetic (the same plus
M generated per class) and synthetic (the M alone: the Classification Accuracy Score), R times each
(seeds 0..R-1), and tested on real images the GAN never saw: Fashion-MNIST's/MNIST's t10k files,
or the held-out share of an image-folder session (trained with --set holdout=0.1). Prints
test accuracy mean ± std and writes evaluate_augmentation.csv, .md and .png into the session
folder (with --sessions: CHECKPOINT_ROOT/evaluate_augmentation_3_4_5.*).

With --real-counts the setting is imbalanced: the classifier is trained on real images with the
given count per class, on the same with the rare classes' images repeated up to --top-up-to
(oversampled), and on the same topped up with generated images (as generate_img.py --balance
would), and scored by balanced accuracy, macro F1 and each class's recall:
evaluate_augmentation_imbalanced.csv, .md and .png.
"""
import argparse
import sys
from pathlib import Path

from generation.balance import parse_real_counts, top_up
from utils import cli
from utils.errors import UserError

HOLDOUT_HINT = ("Train a new session that keeps a share of each class out of training, e.g. "
                "python DCGAN_train.py --data {data} --set holdout=0.1{extra} NEW_NUMBER EPOCHS "
                "(adding holdout to an existing session does not help: it has already seen those images).")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session", metavar="SESSION", nargs="?",
                        help="a conditional session's number (CHECKPOINT_ROOT/training_N/); or use --sessions")
    parser.add_argument("--sessions", nargs="+", metavar="N",
                        help="unconditional image-folder sessions, one per class, in class order (instead of SESSION)")
    parser.add_argument("--class-names", nargs="+", metavar="NAME",
                        help="with --sessions: a name per session (default: each session's data folder name)")
    parser.add_argument("--real-per-class", metavar="K",
                        help="real training images per class, a seeded subset per run (default 100)")
    parser.add_argument("--synthetic-per-class", metavar="M",
                        help="generated images per class, from the averaged generator (default 1000)")
    parser.add_argument("--real-counts", nargs="+", metavar="COUNT",
                        help="the imbalanced setting (instead of K and M): real training images of each class, "
                             "as counts in class order (500 500 25), NAME=COUNT pairs for every class, or 'all' "
                             "(every image the session trained on); put SESSION before it")
    parser.add_argument("--top-up-to", metavar="N",
                        help="with --real-counts: the images per class that oversampling and topping up reach "
                             "(default: the largest count)")
    parser.add_argument("--repeats", metavar="R", default="3",
                        help="runs of each setting, with seeds 0..R-1 (default 3)")
    parser.add_argument("--epochs", metavar="E", default=None,
                        help="classifier epochs, an epoch being at least 5000 images (default 10)")
    parser.add_argument("--test-num", metavar="N", default="0",
                        help="test on a seeded subset of at most N held-out images (default 0: all)")
    cli.add_checkpoint_root(parser)
    return parser.parse_args(argv)


def check_args(args):
    """Numbers and the form of the command, checked before anything is loaded."""
    if (args.session is None) == (args.sessions is None):
        raise UserError("Name either one conditional session (evaluate_augmentation.py SESSION) or one "
                        "unconditional session per class (evaluate_augmentation.py --sessions N1 N2 ...), not "
                        f"{'both' if args.session is not None else 'neither'}.")
    if args.real_counts is not None:
        balanced = [option for option, value in (("--real-per-class", args.real_per_class),
                                                 ("--synthetic-per-class", args.synthetic_per_class)) if value]
        if balanced:
            raise UserError(f"{' and '.join(balanced)} set{'s' if len(balanced) == 1 else ''} the balanced setting "
                            "(K real and M generated images of every class), --real-counts the imbalanced one (its "
                            "generated images top the rare classes up to --top-up-to): pass one or the other.")
        args.top_up_to = args.top_up_to and cli.parse_count(args.top_up_to, "--top-up-to", minimum=1)
    elif args.top_up_to is not None:
        raise UserError("--top-up-to is the imbalanced setting's target: pass --real-counts too, e.g. "
                        "--real-counts 500 500 25 --top-up-to 500.")
    else:
        args.real_per_class = cli.parse_count(args.real_per_class or "100", "--real-per-class", minimum=1)
        args.synthetic_per_class = cli.parse_count(args.synthetic_per_class or "1000", "--synthetic-per-class",
                                                   minimum=1)
    args.repeats = cli.parse_count(args.repeats, "--repeats", minimum=1)
    args.epochs = 10 if args.epochs is None else cli.parse_count(args.epochs, "--epochs", minimum=1)
    args.test_num = cli.parse_count(args.test_num, "--test-num")
    if args.session is not None:
        args.session = cli.parse_count(args.session, "SESSION (the session number)")
        if args.class_names:
            raise UserError("--class-names is for --sessions; a conditional session has its class names.")
        return args
    args.sessions = [cli.parse_count(n, "A session number in --sessions") for n in args.sessions]
    if len(args.sessions) < 2 or len(set(args.sessions)) < len(args.sessions):
        raise UserError(f"--sessions {' '.join(map(str, args.sessions))}: list at least two different sessions, "
                        "one per class.")
    if args.class_names and len(args.class_names) != len(args.sessions):
        raise UserError(f"--class-names gives {len(args.class_names)} names for {len(args.sessions)} sessions: "
                        "give one name per session, in the same order.")
    return args


def conditional_config(root, number):
    from training import sessions
    cfg = sessions.read_stored_config(sessions.find_session(root, number))
    if not cfg["conditional"]:
        raise UserError(f"Session {number} is unconditional: its images have no labels to train a classifier on. "
                        "Pass one unconditional session per class instead (evaluate_augmentation.py --sessions N1 "
                        "N2 ...), or evaluate a conditional session (trained with --set conditional=true).")
    if cfg["dataset"] == "folder" and not cfg["holdout"]:
        raise UserError(f"Session {number} trained on every image of {cfg['data_dir']} (holdout 0), so there are no "
                        "real images it never saw to test on. "
                        + HOLDOUT_HINT.format(data=cfg["data_dir"], extra=" --set conditional=true"))
    return cfg


def class_configs(root, numbers, names):
    """The configs of one unconditional folder session per class, and the class names."""
    from training import sessions
    cfgs = [sessions.read_stored_config(sessions.find_session(root, number)) for number in numbers]
    for number, cfg in zip(numbers, cfgs):
        if cfg["conditional"]:
            raise UserError(f"Session {number} is conditional: it holds every class itself. "
                            f"Evaluate it alone: evaluate_augmentation.py {number}")
        if cfg["dataset"] != "folder":
            raise UserError(f"Session {number} trained on all of {cfg['dataset']} without labels, so it stands for "
                            "no single class. --sessions takes image-folder sessions, one per class; for a labelled "
                            "dataset train a conditional session (--set conditional=true) and pass it as SESSION.")
        if not cfg["holdout"]:
            raise UserError(f"Session {number} trained on every image of {cfg['data_dir']} (holdout 0), so there are "
                            "no real images of its class it never saw to test on. "
                            + HOLDOUT_HINT.format(data=cfg["data_dir"], extra=""))
    shapes = {(cfg["image_size"], cfg["channels"]) for cfg in cfgs}
    if len(shapes) > 1:
        listing = ", ".join(f"session {n}: {c['image_size']}x{c['image_size']}x{c['channels']}" for n, c in zip(numbers, cfgs))
        raise UserError(f"The sessions make images of different shapes ({listing}); one classifier needs one shape.")
    names = names or [Path(cfg["data_dir"]).name for cfg in cfgs]
    if len(set(names)) < len(names):
        raise UserError(f"Two sessions have the same class name ({', '.join(names)}): name the classes with "
                        "--class-names NAME1 NAME2 ..., one per session.")
    return cfgs, names


def requested_counts(values, names, number=None):
    """--real-counts against the class names: a count per class in class order, or None for 'all'.
    number: the conditional session's (None with --sessions), named in the messages."""
    if values == ["all"]:
        return None
    return parse_real_counts(values, names, number, minimum=1)


def check_target(counts, target, names):
    """Refuse a target that no class is below: there would be nothing to oversample or top up."""
    if min(counts) >= target:
        listing = ", ".join(f"{name} {count}" for name, count in zip(names, counts))
        raise UserError(f"Every class has at least {target} real images ({listing}), so no class is rare and "
                        f"there is nothing to oversample or top up: pass --top-up-to above {min(counts)}.")


def main(argv=None):
    args = check_args(parse_args(argv))
    try:
        return _run(args)
    except KeyboardInterrupt:  # the records are written only once every run is done
        print("\nInterrupted: nothing was written.", file=sys.stderr)
        return 130


def _run(args):
    root = args.checkpoint_root
    # The configs alone answer the usual mistakes, before TensorFlow is loaded.
    if args.session is not None:
        cfgs, names = [conditional_config(root, args.session)], None
    else:
        cfgs, names = class_configs(root, args.sessions, args.class_names)
    counts = None if args.real_counts is None else requested_counts(args.real_counts, names or cfgs[0]["class_names"],
                                                                           args.session)
    if counts:
        check_target(counts, args.top_up_to or max(counts), names or cfgs[0]["class_names"])
    cli.load_tensorflow()
    from metrics import imbalance, usefulness
    from training import state as session_state

    real, test, names, test_source = load_images(usefulness, cfgs, names, args)
    hint = ("Pass a larger --test-num." if args.test_num else
            "Train a new session with a larger holdout share, or add images to that class.")
    usefulness.check_test_classes(test, names, hint)
    if args.real_counts is None:
        usefulness.check_real_counts(real, names, args.real_per_class)
    else:
        counts = imbalance.check_counts(real, names, counts)
        args.top_up_to = args.top_up_to or max(counts)
        check_target(counts, args.top_up_to, names)

    numbers = [args.session] if args.session is not None else args.sessions
    loaded = [session_state.load_session(root, number) for number in numbers]
    epochs = ", ".join(f"session {n} at epoch {e}" for n, (_, e) in zip(numbers, loaded))
    print(f"{epochs}; {len(names)} classes ({', '.join(names)}); {len(real.labels)} real training images; "
          f"test: {len(test.labels)} images, {test_source}.", flush=True)

    generators = [(state.ema_generator, state.cfg) for state, _ in loaded]
    runs = f"{args.repeats} run{'s' if args.repeats > 1 else ''}, {len(test.labels)} held-out test images"
    report = lambda line: print(line, flush=True)  # noqa: E731
    if args.real_counts is None:
        synthesize = usefulness.synthesizer(generators, len(names), args.synthetic_per_class)
        results = usefulness.evaluate(real, test, synthesize, names, args.real_per_class, args.repeats, args.epochs,
                                      report=report)
        title = f"{epochs}: K={args.real_per_class} real, M={args.synthetic_per_class} synthetic per class, {runs}"
        paths = usefulness.write_records(records_prefix(args, ""), results, args.real_per_class,
                                         args.synthetic_per_class, len(test.labels), title)
        print("\n" + usefulness.to_markdown(results, title))
    else:
        synthesize = usefulness.synthesizer(generators, len(names), top_up(counts, args.top_up_to))
        results = imbalance.evaluate(real, test, synthesize, names, counts, args.top_up_to, args.repeats,
                                     args.epochs, report=report)
        title = (f"{epochs}: real images per class {' '.join(map(str, counts))}, topped up or oversampled to "
                 f"{args.top_up_to}, {runs}")
        record = imbalance.rows(results, names, counts, args.top_up_to)
        paths = imbalance.write_records(records_prefix(args, "_imbalanced"), record, names, counts, args.top_up_to,
                                        len(test.labels), title)
        print("\n" + imbalance.to_markdown(record, names, counts, args.top_up_to, title))
    print(f"Written: {', '.join(map(str, paths))}")
    return 0


def records_prefix(args, setting):
    """CHECKPOINT_ROOT/training_N/evaluate_augmentation{setting}, or with --sessions
    CHECKPOINT_ROOT/evaluate_augmentation{setting}_3_4_5."""
    if args.session is not None:
        return Path(args.checkpoint_root) / f"training_{args.session}" / f"evaluate_augmentation{setting}"
    return Path(args.checkpoint_root) / "_".join([f"evaluate_augmentation{setting}", *map(str, args.sessions)])


def load_images(usefulness, cfgs, names, args):
    """(real training pool, held-out test set, class names, where the test images come from)."""
    if names is None:  # one conditional session
        real, loaded = usefulness.training_images(cfgs[0])
        if loaded.class_names != cfgs[0]["class_names"]:
            raise UserError(f"The session was trained on the classes {cfgs[0]['class_names']}, but its data now has "
                            f"{loaded.class_names}. Put back the data it was trained on.")
        test, source = usefulness.held_out_images(cfgs[0])
        names = list(cfgs[0]["class_names"])
    else:
        pools = [usefulness.training_images(cfg, label)[0] for label, cfg in enumerate(cfgs)]
        held = [usefulness.held_out_images(cfg, label) for label, cfg in enumerate(cfgs)]
        real = usefulness.LabelledImages.join(pools)
        test = usefulness.LabelledImages.join([images for images, _ in held])
        source = "the held-out share of each session's folder"
    return real, usefulness.cap(test, args.test_num), names, source


if __name__ == "__main__":
    cli.run(main)
