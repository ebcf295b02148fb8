"""Generate images with a trained session's generator.

    python generate_img.py 2 100 16                  # session 2 (noise_dim 100): 16 PNGs in
                                                     # checkpoints/training_2/generated/
    python generate_img.py 2 100 5000 --seed 7 --out data/augmented/sneaker

A conditional session writes NUM images of each class, into OUT/<class>/ (the class name with / and
\\ made _, e.g. OUT/T-shirt_top/); --class NAME (repeatable, a name or an index) picks some:

    python generate_img.py 4 100 1000 --seed 7 --out data/synthetic --class Sneaker --class 8

Images are numbered img_000001.png, ...; a folder that already holds some gets the following
numbers, never overwrites. A preview grid of the first 64 (of a conditional session: 8 of each
class, a row per class) goes to the session's grid.png.
"""
import argparse
import secrets
import sys

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
    # Imported after the arguments are checked, so mistakes are answered without loading TensorFlow.
    cli.load_tensorflow()
    from generation import writer as generation
    from training import state as session_state

    generation.check_noise_dim(cfg, noise_dim, number)
    out_dir = args.out or session / "generated"
    grid_path = args.grid or session / "grid.png"
    generation.check_paths(out_dir, grid_path)
    if chosen is not None:
        folders = class_lib.class_folders(cfg["class_names"], number)
        generation.check_class_folders(out_dir, [folders[i] for i in chosen])
    state, epoch = session_state.load_session(args.checkpoint_root, number, epoch)
    repeat = "" if args.seed is not None else f" (repeat this run with --seed {seed})"
    print(f"Session {number}, epoch {epoch}, seed {seed}{repeat}, batch size {batch_size}")

    run = generation.generate_run(state, count, seed, out_dir, grid_path, chosen, batch_size)
    print(run.report(count))
    return 130 if run.interrupted else 0


if __name__ == "__main__":
    cli.run(main)
