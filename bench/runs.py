"""What the benchmarks share: a place for their sessions, and training one."""
import contextlib
import shutil
import tempfile
from pathlib import Path


def session_root(args, name):
    """A temporary folder for a benchmark's sessions, or --keep/NAME when the sessions should stay
    (to look at their grids, or to run compute_fid.py and evaluate_augmentation.py on them)."""
    if args.keep is None:
        return tempfile.TemporaryDirectory()
    root = Path(args.keep) / name
    root.mkdir(parents=True, exist_ok=True)
    return contextlib.nullcontext(str(root))


def train_session(root, overrides, epochs, images=None, number=1, config_path=None):
    """Train session `number` under root from scratch to `epochs` (or on to it from its newest
    checkpoint); returns the session's metrics rows."""
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
    loop.run(plan, loop.build_state(plan), images or load_training_images(plan.cfg))
    return SessionProgress(session).rows()


def copy_outputs(session, destination):
    """A session's epoch grids, metrics.csv and losses.png, to look at after its folder is gone."""
    shutil.copytree(session / "images", destination, dirs_exist_ok=True)
    for name in ("metrics.csv", "losses.png"):
        shutil.copy2(session / name, destination / name)
