"""bench.py colour-recipe: 64x64 recipes on a real small colour set, at equal CPU time.

    python bench/bench.py colour-recipe --data bench/.data/emoji-apple --keep bench/.runs \\
        --weights bench/.data/pt_inception-2015-12-05-converted.pth --minutes 30

Every candidate is configs/image_folder_64.yaml with a few overrides. Equal CPU time is set by
the CPU time each candidate's epoch costs, not by a wall clock that other processes disturb: each
candidate trains its first epochs, the candidates in turn, and the process CPU time of its cheaper
of epochs 3 and 4 (steady state; the first traces the step) gives its images per second of this
2-core CPU, which turns each budget of minutes into a number of epochs, stored in plan.json so a
resumed run keeps it. Other load still costs a little (TensorFlow's threads spin while they wait,
and caches are shared), so a quiet machine gives the cleanest plan. Each candidate then trains to
that many epochs (with --keep, a stopped run goes on from its last checkpoint) and is scored by
compute_fid.py: the standard FID of 5,000 generated images against the whole set,
precision/recall/density/coverage and copies. Each result
is one line and one record in results.jsonl; grids and metrics are copied to --grids.
"""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import runs

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "image_folder_64.yaml"
# Overrides of configs/image_folder_64.yaml (ADA). Each names its widths and batch size, so that a
# candidate stays the recipe it was measured as whatever the config file has by default.
BATCH_64 = {"batch_size": 64}  # the batch every candidate was first measured at
PAPER = dict(BATCH_64, g_filters=128, d_filters=64)  # the DCGAN paper's 64x64 networks: 4x4x1024 -> 64x64x3
G32_D32 = dict(BATCH_64, g_filters=32, d_filters=32)  # the widths that won at 30 minutes (the config's)
CANDIDATES = {
    "paper": PAPER,
    "g64": dict(BATCH_64, g_filters=64, d_filters=64),
    "g32_d32": G32_D32,
    "g64_d32": dict(BATCH_64, g_filters=64, d_filters=32),
    # The rest of the recipe, varied one setting at a time around the winning widths.
    "g32_d32_noaug": dict(G32_D32, augment="none"),
    "g32_d32_ema": dict(G32_D32, ema_decay=0.999, ema_warmup=True),
    "g32_d32_b32": dict(G32_D32, batch_size=32),  # the config's default recipe
    "g32_d32_b128": dict(G32_D32, batch_size=128),
    "g32_d32_lr1e-4": dict(G32_D32, g_lr=1e-4, d_lr=1e-4),
}
# Epochs after the first two are timed, TIMED_EPOCHS of them, and the cheaper one sets the rate:
# other load only ever adds CPU time (spinning threads, shared caches).
FIRST_TIMED_EPOCH = 3
TIMED_EPOCHS = 2
# The cores a training process uses (TensorFlow's thread pools take them all): CPU seconds per
# wall-clock second of a quiet machine.
CORES = os.cpu_count()
COPIES = 1000  # generated images checked for copies of the set (at most --num: compute_fid.py's rule)


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="the image folder (class subfolders are fine)")
    parser.add_argument("--subset", type=int, default=0, help="train on a seeded subset of this many images "
                        "(max_images); scored against the whole set all the same (default 0 = all)")
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES),
                        default=["paper", "g64", "g32_d32"], help="recipes to compare")
    parser.add_argument("--minutes", type=float, nargs="+", default=[30.0],
                        help="CPU budgets, each a score of every candidate (default 30)")
    parser.add_argument("--num", type=int, default=5000, help="generated images per score (default 5000)")
    runs.add_set(parser)
    runs.add_weights(parser)
    runs.add_keep(parser, required=True)
    runs.add_grids(parser)


def _plan(args, root, count):
    """{candidate: images/s of this CPU}, measured once in turn and kept in plan.json."""
    from training import sessions
    path = root / "plan.json"
    plan = json.loads(path.read_text()) if path.exists() else {}
    cpu_seconds = {name: [] for name in args.candidates if name not in plan}
    epoch = 0
    while any(len(seconds) < TIMED_EPOCHS for seconds in cpu_seconds.values()):
        epoch += 1
        for name, seconds in cpu_seconds.items():
            if len(seconds) == TIMED_EPOCHS:
                continue
            session = sessions.session_dir(root / name, 1)
            trained = max(sessions.checkpoint_epochs(session, report_fallback=False) or [0]) \
                if session.is_dir() else 0
            start = time.process_time()
            runs.train_session(root / name, _overrides(args, name), epoch, config_path=CONFIG)
            if epoch >= FIRST_TIMED_EPOCH and trained < epoch:  # an epoch trained now, not kept from before
                seconds.append(time.process_time() - start)
    for name, seconds in cpu_seconds.items():
        plan[name] = round(count * CORES / min(seconds), 2)
    path.write_text(json.dumps(plan, indent=1))
    return plan


def _overrides(args, name):
    from training import config
    return dict(config.parse_overrides(args.set), **CANDIDATES[name], data_dir=str(Path(args.data).resolve()),
                max_images=args.subset, cache_dir=str(Path(args.keep).resolve() / "cache"), checkpoint_every=1, max_to_keep=3)


def _score(args, root, name):
    """compute_fid.py's values for the candidate's newest checkpoint against the whole set."""
    command = [sys.executable, str(REPO / "compute_fid.py"), "--checkpoint-root", str(root / name), "--fake", "1",
               "--real", str(Path(args.data).resolve()), "--num", str(args.num), "--num-real", "0", "--prdc",
               "--copies", str(min(COPIES, args.num)), "--weights", args.weights, "--image-size", "64",
               "--cache-dir", str(Path(args.keep).resolve() / "cache" / "fid")]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"compute_fid.py failed for {name}:\n{out.stdout}{out.stderr}")
    values = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in ("FID", "precision", "recall", "density", "coverage", "copies"):
            values[key.lower()] = float(value.split()[0])
    return values


def run(args):
    from data.pipeline import steps_per_epoch
    from quality import report
    from training import sessions
    root = Path(args.keep) / f"colour_recipe{'_' + str(args.subset) if args.subset else ''}"
    root.mkdir(parents=True, exist_ok=True)
    from data.datasets import load_folder
    count = args.subset or len(load_folder(args.data, 64, 3, cache_dir=str(Path(args.keep) / "cache")).images)
    plan = _plan(args, root, count)
    results_path = root / "results.jsonl"
    done = {(r["candidate"], r["minutes"]) for r in map(json.loads, results_path.read_text().splitlines())} \
        if results_path.exists() else set()
    for minutes in args.minutes:
        for name in args.candidates:
            if (name, minutes) in done:
                continue
            epochs = max(FIRST_TIMED_EPOCH + TIMED_EPOCHS - 1, math.floor(minutes * 60 * plan[name] / count))
            rows = runs.train_session(root / name, _overrides(args, name), epochs, config_path=CONFIG)
            session = root / name / "training_1"
            runs.copy_outputs(session, Path(args.grids) / f"{root.name}_{name}")
            values = _score(args, root, name)
            batch_size = sessions.read_stored_config(session)["batch_size"]
            record = dict(candidate=name, minutes=minutes, epochs=epochs, images_per_sec=plan[name],
                          steps=epochs * steps_per_epoch(count, batch_size), r_t=rows[epochs - 1]["r_t"],
                          augment_p=rows[epochs - 1].get("augment_p"), **values)
            with open(results_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            report(f"colour-recipe {name} minutes={minutes:g}", **{k: v for k, v in record.items()
                                                                   if k not in ("candidate", "minutes")})
