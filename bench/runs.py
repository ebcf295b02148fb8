"""What the benchmarks share: their common options, a place for their sessions, and training one."""
import contextlib
import shutil
import tempfile
from pathlib import Path

GRIDS = Path(__file__).resolve().parent / "grids"


def add_keep(parser, required=False):
    """--keep DIR: where a benchmark's sessions stay, each under DIR/<benchmark>."""
    if required:
        parser.add_argument("--keep", metavar="DIR", required=True, help="where the sessions and results stay "
                            "(required: a stopped run goes on from there when run again)")
    else:
        parser.add_argument("--keep", metavar="DIR", help="keep the sessions in DIR/<benchmark>, where a later run "
                            "takes them up again (default: a temporary folder, removed afterwards)")


def add_grids(parser):
    """--grids DIR: where each session's epoch grids, metrics.csv and losses.png are copied."""
    parser.add_argument("--grids", metavar="DIR", default=str(GRIDS), help="where each session's epoch grids, "
                        "metrics.csv and losses.png are copied (default bench/grids)")


def add_set(parser, default=()):
    """--set KEY=VALUE: a config override of the sessions the benchmark trains (repeatable)."""
    shown = f"; default {' '.join(default)}" if default else ""
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=list(default),
                        help=f"config override of every session, e.g. --set d_batchnorm=true (repeatable{shown})")


def add_weights(parser):
    """--weights: the FID Inception network's weights, as compute_fid.py takes them."""
    parser.add_argument("--weights", default="standard", help="compute_fid.py's --weights: standard, a local "
                        "copy of its .pth (e.g. the one fid-reference writes), or random (default standard)")


def session_root(keep, name):
    """A temporary folder for a benchmark's sessions, or KEEP/NAME when the sessions should stay
    (to look at their grids, or to run compute_fid.py and evaluate_augmentation.py on them)."""
    if keep is None:
        return tempfile.TemporaryDirectory()
    root = Path(keep) / name
    root.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(str(root))


def train_session(root, overrides, epochs, images=None, number=1, config_path=None):
    """Train session `number` under root from scratch to `epochs` (or on to it from its newest
    checkpoint), on `images` (datasets.TrainingImages; default: the config's data); returns the
    session's metrics rows. The one way a benchmark trains."""
    from data.datasets import load_training_images
    from training import loop, sessions
    from training import plan as training_plan
    from training.progress import SessionProgress
    session = sessions.session_dir(root, number)
    done = sessions.checkpoint_epochs(session, report_fallback=False) if session.is_dir() else {}
    if done and max(done) >= epochs:  # a kept session (--keep) that an earlier run took this far
        return SessionProgress(session).rows()[:epochs]
    plan = training_plan.plan(root, number, epochs, max(done) if done else None, config_path=config_path,
                              overrides=overrides)
    code = loop.run(plan, loop.build_state(plan), images if images is not None else load_training_images(plan.cfg))
    rows = SessionProgress(session).rows()
    if code:  # stopped by a signal: the benchmark stops too, rather than go on to the next run
        raise SystemExit(f"Stopped after epoch {len(rows)} of {epochs} in {session}; run the benchmark again to go on.")
    return rows


def copy_outputs(session, destination):
    """A session's epoch grids, metrics.csv and losses.png, to look at after its folder is gone."""
    shutil.copytree(session / "images", destination, dirs_exist_ok=True)
    for name in ("metrics.csv", "losses.png"):
        shutil.copy2(session / name, destination / name)
