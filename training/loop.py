"""Training a session: plan (every check, no writes), restore, then the epoch loop.

Checkpoint ckpt-E is the state at the end of epoch E. Planning refuses anything that could lose
saved work before a single file is touched; the loop stops cleanly on SIGINT or SIGTERM.
"""
import gc
import sys
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from data.labels import fake_class_shares
from data.pipeline import epoch_dataset, steps_per_epoch
from metrics.training_fid import FidScorer
from training import config as config_lib
from training import sessions
from training.checkpoints import Checkpoints
from training.clock import RunClock
from training.distribute import choose_precision, is_chief
from training.events import EventLog
from training.plan import Plan
from training.progress import METRICS, SessionProgress, overfitting_warning
from training.record import EpochRecord
from training.state import GanState
from training.step import make_train_step
from training.stopping import GracefulStop
from utils.console import ProgressReport, duration
from utils.errors import UserError


def build_state(plan, strategy=None):
    """The networks and optimizers, restored from the planned checkpoint if any."""
    strategy = strategy or tf.distribute.get_strategy()
    if plan.cfg["sync_batchnorm"] == "auto":  # decided once, by the strategy the session starts with
        plan.cfg["sync_batchnorm"] = strategy.num_replicas_in_sync > 1
        if plan.restore_prefix:
            plan.config_changes.append(f"sync_batchnorm: auto -> {plan.cfg['sync_batchnorm']}")
    if plan.cfg["precision"] == "auto":  # a new session's; a restore keeps the one it was trained in
        plan.cfg["precision"], why = choose_precision(strategy)
        print(f"Precision: {plan.cfg['precision']} (auto: {why}; set precision to choose another).")
    state = GanState(plan.cfg, strategy)
    if plan.restore_prefix:
        state.restore(plan.restore_prefix)
        if int(state.epoch.numpy()) != plan.restore_epoch:
            raise UserError(f"{plan.restore_prefix} holds the state of epoch {int(state.epoch.numpy())}, not "
                            f"{plan.restore_epoch}: the session folder is inconsistent. Restore it from a backup.")
        print(f"Restored session {plan.number} from {plan.restore_prefix} (end of epoch {plan.restore_epoch}).")
    return state


@dataclass
class Run:
    """One run of the epoch loop, built once: what it trains, on which images, how, and whether
    this process is the chief, the one that writes the session folder."""
    plan: Plan
    state: GanState
    data: object  # data.datasets.TrainingImages
    strategy: tf.distribute.Strategy
    chief: bool
    steps: int  # per epoch
    progress: SessionProgress
    events: EventLog  # writes nothing unless chief
    fid: FidScorer = None  # None unless fid_every
    checkpoints: Checkpoints = field(init=False)
    train_step: object = field(init=False)
    clock: RunClock = field(init=False)

    def __post_init__(self):
        self.checkpoints = Checkpoints(self.state, self.plan, self.chief)
        classes = self.state.class_names
        probabilities = fake_class_shares(self.data.labels, len(classes), self.cfg["fake_classes"]) \
            if classes else None
        self.train_step = make_train_step(self.state, self.cfg, self.strategy, self.cfg["batch_size"], probabilities)
        self.clock = RunClock(self.first_epoch, self.plan.last_epoch, self.steps)

    @property
    def cfg(self):
        return self.plan.cfg

    @property
    def first_epoch(self):
        return self.plan.restore_epoch + 1


def run(plan, state, training_images, strategy=None, on_start=None):
    """Train epochs restore_epoch+1 .. last_epoch. Returns the process exit code. on_start() is
    called once every check has passed, just before the first write to the session folder."""
    cfg = plan.cfg
    strategy = strategy or tf.distribute.get_strategy()
    steps = _steps(cfg["batch_size"], len(training_images.images), strategy)
    _report_skipped(training_images)
    fid = FidScorer(cfg, training_images.images, training_images.labels if state.class_names else None) \
        if cfg["fid_every"] else None  # fails early when weights are missing
    if cfg["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    chief = is_chief(strategy)
    progress = SessionProgress(plan.session)
    if chief:
        if on_start:
            on_start()
        _prepare_folder(plan, progress)
        if not plan.restore_prefix:
            progress.write_reals(training_images)
            if state.class_names:  # the labels this loop trains on, for generate_img.py --balance
                counts = np.bincount(training_images.labels, minlength=len(state.class_names))
                sessions.write_class_counts(plan.session, state.class_names, counts)
    events = EventLog(plan.session, enabled=chief)
    events.start(first_epoch=plan.restore_epoch + 1, last_epoch=plan.last_epoch, steps=steps,
                 images=len(training_images.images), batch_size=cfg["batch_size"])
    try:
        return _train(Run(plan, state, training_images, strategy, chief, steps, progress, events, fid))
    except UserError as e:
        events.write("error", message=str(e))
        raise
    except BaseException as e:  # a crash or an abort: the record says so, the traceback goes to stderr
        events.write("error", message=f"{type(e).__name__}: {e}")
        raise


def _train(run):
    plan, state = run.plan, run.state
    print(f"Session {plan.number}: {len(run.data.images)} images from {run.data.source}, {run.steps} steps of "
          f"{run.cfg['batch_size']} per epoch, epochs {run.first_epoch}..{plan.last_epoch}, in {plan.session}")
    saved = plan.restore_epoch if plan.restore_prefix else None  # the newest checkpoint's epoch
    completed = plan.restore_epoch
    unsaved = None  # a snapshot of the state at the end of the newest epoch without a checkpoint
    overfitting = []  # (r_t, steps) of this run's epochs
    with GracefulStop() as stop:
        for epoch in range(run.first_epoch, plan.last_epoch + 1):
            trained = _train_epoch(run, epoch, stop)
            if trained is None:  # stopped inside the epoch
                break
            completed = epoch
            state.epoch.assign(epoch)
            record = _gather(run, epoch, *trained)
            if run.chief:
                run.progress.record_epoch(record, state.samples(), state.sample_rows())
            if record.saved:
                _save(run, epoch)
                saved, unsaved = epoch, None
            else:
                unsaved = state.snapshot()
            run.events.write("epoch", **record.event())
            print(record.line(), flush=True)
            overfitting.append((record.metrics["r_t"], run.steps))
            warning = overfitting_warning(overfitting)
            if warning:
                print(f"  {warning}", flush=True)

    if stop.agreed:
        return _stop(run, stop, completed, saved, unsaved)
    run.events.write("done", last_epoch=plan.last_epoch)
    progress = run.progress
    print(f"Done. Samples: {progress.images_dir}/, animation: {progress.gif_path}, "
          f"metrics: {progress.metrics_path}, plot: {progress.plot_path}")
    return 0


def _train_epoch(run, epoch, stop):
    """(METRICS as batch means, seconds) of one epoch, or None when a stop signal interrupted it."""
    cfg, batch_size, last = run.cfg, run.cfg["batch_size"], run.plan.last_epoch
    # Each worker feeds its own share of every global batch to its local replicas, in order.
    dataset = run.strategy.distribute_datasets_from_function(lambda context: epoch_dataset(
        run.data.images, batch_size, cfg["seed"], epoch, cfg["flip"], context.input_pipeline_id,
        context.num_input_pipelines, context.get_per_replica_batch_size(batch_size),
        labels=run.data.labels if cfg["conditional"] else None, class_balanced=cfg["real_classes"] == "uniform"))
    if sys.stdout.isatty():
        print(f"Epoch {epoch}/{last}")
    bar = ProgressReport(run.steps, f"epoch {epoch}/{last} step", metrics=METRICS)
    totals = np.zeros(len(METRICS))
    run.clock.start_epoch(epoch)
    step = 0
    batches = enumerate(iter(dataset), start=1)
    try:
        for step, batch in batches:
            *values, stop_flags = run.train_step(batch, stop.flag, step).numpy()
            totals += values
            means = dict(zip(METRICS, totals / step))
            eta, run_eta = run.clock.stepped(step)
            bar.update(step, means, eta=eta, note=f"run {duration(run_eta)} left")
            run.events.step(step == run.steps, epoch=epoch, last_epoch=last, step=step, steps=run.steps, eta=eta,
                            run_eta=run_eta, metrics=means)
            if stop_flags > 0:
                stop.agreed = True
                return None
    finally:
        # An iterator left mid-epoch (a stop, an error) still holds its from_generator thread, in
        # reference cycles that only the collector frees. Left to interpreter exit, TensorFlow
        # finalizes it after Python is gone ("Python interpreter state is not initialized. The
        # process may be terminated."), which aborted a stopped run with SIGABRT once under load.
        del batches
        gc.collect()
    return dict(zip(METRICS, totals / step)), run.clock.end_epoch()


def _gather(run, epoch, means, seconds):
    """The epoch's record: every number any view of the epoch shows."""
    cfg, state = run.cfg, run.state
    fid = best_fid = None
    if run.fid and epoch % cfg["fid_every"] == 0:
        fid, best_fid = run.fid.score(state.ema_generator, epoch, run.progress.rows())
    return EpochRecord(
        epoch=epoch, last_epoch=run.plan.last_epoch, metrics=means, seconds=seconds,
        images_per_sec=run.steps * cfg["batch_size"] / seconds, run_eta=run.clock.left(run.steps)[1],
        saved=epoch % cfg["checkpoint_every"] == 0 or epoch == run.plan.last_epoch,
        # blank otherwise: no image was augmented, whatever augment_p says
        augment_p=float(state.augment_p.numpy()) if cfg["augment"] != "none" else None,
        fid=fid, best_fid=best_fid,
        expected_seconds=run.clock.expected_total(run.steps) if epoch == run.first_epoch else None)


def _save(run, epoch, final=False):
    """ckpt-E, its event, and progress.gif and losses.png: throttled mid-run, always at the run's end."""
    run.checkpoints.save(epoch)
    run.events.write("checkpoint", epoch=epoch, prefix=run.checkpoints.prefix(epoch))
    if run.chief:
        run.progress.write_summaries(throttled=not final and epoch < run.plan.last_epoch)


def _stop(run, stop, completed, saved, unsaved):
    """Leave the session at its last completed epoch, checkpointed; returns the exit code."""
    if unsaved is not None:
        # The steps since the end of that epoch are dropped, so ckpt-E is exactly epoch E's state.
        run.state.load_snapshot(unsaved)
        _save(run, completed, final=True)
        saved = completed
    elif run.chief:
        run.progress.write_summaries()  # what the throttle skipped since the last one is shown
    plan = run.plan
    resume = plan.resume_command(saved) if saved else f"python DCGAN_train.py {plan.number} {plan.last_epoch}"
    run.events.write("stop", completed=completed, saved=saved, resume=resume, signal=stop.signum)
    print(f"Stopped after epoch {completed}; saved checkpoints are intact. Resume with: {resume}")
    return stop.exit_code()


def _steps(batch_size, count, strategy):
    """Steps per epoch of `count` images, refusing a batch that does not split or fill once."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserError(f"batch_size {batch_size} does not split evenly over {replicas} replicas; use a multiple "
                        f"of {replicas}.")
    steps = steps_per_epoch(count, batch_size)
    if steps == 0:
        raise UserError(f"The training set has {count} images, fewer than one batch ({batch_size}). "
                        f"Add images or lower the batch size, e.g. --set batch_size={max(1, count)}.")
    return steps


def _prepare_folder(plan, progress):
    try:
        plan.session.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"Cannot create the session folder {plan.session} ({e.strerror}). "
                        "Pass a writable folder with --checkpoint-root DIR.") from None
    sessions.reconcile(plan.session)
    if plan.restore_prefix:
        progress.keep_until(plan.restore_epoch)
        for change in plan.config_changes:
            print(f"Config change on resume: {change}")
    else:
        progress.keep_until(0)  # a session without checkpoints: its old grids and rows are stale
    if not plan.restore_prefix or plan.config_changes:
        (plan.session / "config.yaml").write_text(config_lib.dump(plan.cfg))


def _report_skipped(training_images, shown=20):
    skipped = training_images.skipped
    if not skipped:
        return
    print(f"Skipped {len(skipped)} files in {training_images.source} that cannot be used "
          "(--strict makes this an error):")
    for path, reason in skipped[:shown]:
        print(f"  {path}: {reason}")
    if len(skipped) > shown:
        print(f"  ... and {len(skipped) - shown} more")
