"""What the scripts share at their boundary: number arguments, quiet TensorFlow, clean errors."""
import os
import sys

from errors import UserError

DEFAULT_CHECKPOINT_ROOT = "checkpoints"


def parse_count(text, what, minimum=0):
    """A whole number from the command line, or a UserError naming the argument."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a whole number, got '{text}'.") from None
    if value < minimum:
        raise UserError(f"{what} must be at least {minimum}, got {value}.")
    return value


def add_checkpoint_root(parser):
    parser.add_argument("--checkpoint-root", metavar="DIR", default=DEFAULT_CHECKPOINT_ROOT,
                        help=f"folder holding the training_N session folders (default: {DEFAULT_CHECKPOINT_ROOT})")


def run(main):
    """Run a script's main(): a UserError becomes 'error: ...' on stderr and exit code 2."""
    # TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) is noise for a user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        code = main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)
