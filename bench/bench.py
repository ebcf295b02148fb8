"""Benchmarks: each prints one line `NAME key=value ...`, with a ratio against a baseline measured
side by side in the same process where there is one. One subcommand a benchmark, with its own
options (`bench.py NAME --help`):

    python bench/bench.py train            # project loop vs the TF tutorial's plain loop
    python bench/bench.py folder           # folder training: first and second epoch vs in-memory
    python bench/bench.py memory           # peak RSS iterating one epoch over a large folder
    python bench/bench.py generate         # generate_img.py vs one image at a time
    python bench/bench.py fid              # InceptionV3 images/s; cached second call vs first
    python bench/bench.py quality          # the default recipe's samples after each of 3 epochs
    python bench/bench.py conditional      # a conditional session's samples per epoch, agreement per class
    python bench/bench.py augment          # small subsets with and without augmentation, equal steps
    python bench/bench.py recipe           # candidate recipes side by side, scored after epochs 1, 3, 10
    python bench/bench.py recipe --folder 5000   # the same with the 64x64 folder config
    python bench/bench.py usefulness       # a conditional session's PRDC, copies and classifier accuracies
    python bench/bench.py fid-reference    # the FID Inception network against PyTorch's reference
    python bench/bench.py colour-recipe --data DIR --keep DIR   # 64x64 recipes at equal CPU time
    python bench/bench.py colour-augment --data DIR --keep DIR  # none/ADA/DiffAugment on a real subset
    python bench/bench.py copy-filter --weights FILE            # what --reject-copies drops of unseen real images
    python bench/bench.py drs --checkpoint-root DIR --real SET  # discriminator rejection sampling, with and without
    python bench/bench.py all              # the standard set (train .. usefulness) with their defaults

Sizes are options, so a quick run can scale them down; bench/README.md says which sizes its
figures are for. The benchmarks live in speed.py (train, folder, memory, generate, fid),
samples.py (quality, conditional, augment, recipe, usefulness), colour.py (colour-recipe),
colour_augment.py (colour-augment), copy_filter.py (copy-filter), drs.py (drs) and
fid_reference.py (fid-reference).
"""
import argparse
import inspect
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from utils import cli  # noqa: E402

import colour  # noqa: E402
import colour_augment  # noqa: E402
import copy_filter  # noqa: E402
import drs  # noqa: E402
import fid_reference  # noqa: E402
import samples  # noqa: E402
import speed  # noqa: E402

# name: (add_arguments(parser), run(args)); a module with one benchmark provides the pair itself.
BENCHES = {**speed.BENCHES, **samples.BENCHES,
           **{name: (module.add_arguments, module.run) for name, module in
              (("fid-reference", fid_reference), ("colour-recipe", colour), ("colour-augment", colour_augment),
               ("copy-filter", copy_filter), ("drs", drs))}}
# What `all` (make bench) runs: the benchmarks that need no data or options of their own.
STANDARD = ("train", "folder", "memory", "generate", "fid", "quality", "conditional", "augment", "recipe", "usefulness")


def _description(run):
    """(one-line help, full description) of a benchmark: its run() docstring, or its module's."""
    text = inspect.getdoc(run) or sys.modules[run.__module__].__doc__
    summary = text.strip().splitlines()[0]
    return summary.split(": ", 1)[1] if summary.startswith("bench.py ") else summary, text


def build_parser():
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    for name, (add_arguments, run) in BENCHES.items():
        summary, description = _description(run)
        command = commands.add_parser(name, help=summary, description=description,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(command)
    commands.add_parser("all", help=f"the standard set with their defaults: {', '.join(STANDARD)}")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in STANDARD if args.bench == "all" else [args.bench]:
        BENCHES[name][1](args if name == args.bench else parser.parse_args([name]))


if __name__ == "__main__":
    cli.run(main)  # a UserError (a set smaller than a batch, a missing folder) is one line, not a traceback
