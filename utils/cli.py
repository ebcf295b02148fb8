"""What the scripts share at their boundary: number arguments, quiet TensorFlow, clean errors."""
import argparse
import os
import re
import sys
import tempfile

from utils.errors import UserError

DEFAULT_CHECKPOINT_ROOT = "checkpoints"
VERBOSE_VARIABLE = "DCGAN_VERBOSE"
# TensorFlow's C++ start-up lines (absl's "I0000 12:00:00.000000  1234 file.cc:31] ...", and the
# note printed before absl is set up): CPU features, oneDNN, and on a machine without CUDA an
# "E" line about cuInit that is not an error. TF_CPP_MIN_LOG_LEVEL no longer reaches them.
_STARTUP_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
                           r"|[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] "
                           r"|To enable the following instructions: .* rebuild TensorFlow)")


def parse_count(text, what, minimum=0):
    """A whole number from the command line, or a UserError naming the argument."""
    value, problem = _count(text, minimum)
    if problem:
        raise UserError(f"{what} {problem}.")
    return value


def count_type(minimum=0):
    """argparse's type= for a whole number of at least minimum. argparse names the option in its
    refusal ('argument --num: must be at least 2, got 1') and exits with status 2."""
    def count(text):
        value, problem = _count(text, minimum)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    return count


def _count(text, minimum):
    """(the whole number text holds, None), or (None, what is wrong with it)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None, f"must be a whole number, got '{text}'"
    if value < minimum:
        return None, f"must be at least {minimum}, got {value}"
    return value, None


def add_checkpoint_root(parser):
    parser.add_argument("--checkpoint-root", metavar="DIR", default=DEFAULT_CHECKPOINT_ROOT,
                        help=f"folder holding the training_N session folders (default: {DEFAULT_CHECKPOINT_ROOT})")


def load_tensorflow():
    """Import TensorFlow and find its devices with its start-up lines kept off the terminal.

    They are written by C++ straight to file descriptor 2, so stderr itself is pointed at a file
    for the import and the device scan; afterwards every captured line that is not one of them
    (a Python warning, a real problem) is passed on. DCGAN_VERBOSE=1 shows everything.
    """
    if "tensorflow" in sys.modules or os.environ.get(VERBOSE_VARIABLE) == "1":
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # CUDA is probed here, not at import
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors="replace").splitlines(keepends=True):
            if not _STARTUP_LINE.match(line):
                sys.stderr.write(line)
    sys.stderr.flush()


def run(main):
    """Run a script's main(): a UserError becomes 'error: ...' on stderr and exit code 2."""
    if os.environ.get(VERBOSE_VARIABLE) != "1":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's later C++ info lines
    try:
        code = main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.exit(code)
