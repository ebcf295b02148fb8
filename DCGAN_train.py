"""Train a DCGAN session.

    python DCGAN_train.py 2 100          # new session 2, epochs 1..100
    python DCGAN_train.py -r 40 2 100    # session 2 from its epoch-40 checkpoint, epochs 41..100
"""
import argparse

from utils import cli


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session", help="session number N: the session lives in CHECKPOINT_ROOT/training_N/")
    parser.add_argument("epochs", help="last epoch to train (epochs are numbered from 1 across restores)")
    parser.add_argument("-r", "--restore", metavar="OFFSET",
                        help="restore the session's checkpoint of epoch OFFSET and train epochs OFFSET+1..EPOCHS")
    parser.add_argument("--config", metavar="FILE",
                        help="YAML config overriding the defaults in configs/fashion_mnist.yaml "
                             "(on -r: overriding the session's stored config)")
    parser.add_argument("--data", metavar="NAME_OR_DIR",
                        help="dataset name (fashion_mnist, mnist), a folder with its IDX files, or a folder of images")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                        help="override one config key, e.g. --set g_lr=1e-4 (repeatable)")
    cli.add_checkpoint_root(parser)
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                        help="tf.distribute strategy: mirrored trains on all local GPUs, splitting each batch; "
                             "multiworker on the GPUs of every machine listed in TF_CONFIG, run on each of them "
                             "(see the README) (default: one device)")
    parser.add_argument("--strict", action="store_true",
                        help="stop with an error on any image file that cannot be used, instead of skipping it")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    number = cli.parse_count(args.session, "The session number")
    epochs = cli.parse_count(args.epochs, "EPOCHS", minimum=1)
    restore = None if args.restore is None else cli.parse_count(args.restore, "The restore epoch (-r)", minimum=1)
    from data.datasets import load_training_images
    from training import config, distribute, lock, sessions
    from training.plan import plan as plan_run

    request = (args.checkpoint_root, number, epochs, restore, args.config, config.parse_overrides(args.overrides),
               args.data)
    session = sessions.session_dir(args.checkpoint_root, number)
    # The lock first: a second trainer is refused by name before its plan reads a folder in flux.
    with lock.exclusive(session, number, enabled=distribute.chief_task(args.strategy), create=restore is None) as held:
        plan = plan_run(*request)
        # The plan is plain Python: a mistake in the arguments, the config, the data or the session
        # is answered in a fraction of a second, before TensorFlow's import (seconds) is paid.
        cli.load_tensorflow()
        from training import loop
        strategy = distribute.make_strategy(args.strategy)
        state = loop.build_state(plan, strategy)  # a mismatched checkpoint fails here, before the data is decoded
        images = load_training_images(plan.cfg, strict=args.strict)
        return loop.run(plan, state, images, strategy, on_start=held.announce)


if __name__ == "__main__":
    cli.run(main)
