"""Training a session: plan (every check, no writes), restore, then the epoch loop.

Checkpoint ckpt-E is the state at the end of epoch E. Planning refuses anything that could lose
saved work before a single file is touched; the loop stops cleanly on SIGINT or SIGTERM.
"""
import gc
import os
import shutil
import signal
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from data.labels import class_frequencies
from data.pipeline import epoch_dataset, steps_per_epoch
from training import config as config_lib
from training import sessions
from training.distribute import choose_precision, is_chief
from training.events import EventLog
from training.progress import METRICS, SessionProgress, overfitting_warning
from training.state import GanState
from training.step import make_train_step
from utils.console import ProgressReport
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


class GracefulStop:
    """SIGINT/SIGTERM set a flag that goes into the next training step; a second signal aborts at once.

    The step sums the flags of all workers, so every worker of a multi-worker run learns of a
    stop at the same step (`agreed`) and they all leave the loop together: a worker that left
    alone would leave the others waiting in their next all-reduce.
    """

    def __enter__(self):
        self.signum = None
        self.agreed = False
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name} received: stopping after the next step "
              "(send it again to abort at once).", flush=True)

    @property
    def flag(self):
        return tf.constant(0.0 if self.signum is None else 1.0)

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


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


def run(plan, state, training_images, strategy=None, on_start=None):
    """Train epochs restore_epoch+1 .. last_epoch. Returns the process exit code. on_start() is
    called once every check has passed, just before the first write to the session folder."""
    cfg = plan.cfg
    strategy = strategy or tf.distribute.get_strategy()
    images = training_images.images
    batch_size = cfg["batch_size"]
    if batch_size % strategy.num_replicas_in_sync:
        raise UserError(f"batch_size {batch_size} does not split evenly over {strategy.num_replicas_in_sync} "
                        f"replicas; use a multiple of {strategy.num_replicas_in_sync}.")
    steps = steps_per_epoch(len(images), batch_size)
    if steps == 0:
        raise UserError(f"The training set has {len(images)} images, fewer than one batch ({batch_size}). "
                        f"Add images or lower the batch size, e.g. --set batch_size={max(1, len(images))}.")
    _report_skipped(training_images)
    fid_scorer = FidScorer(cfg, images, training_images.labels if state.class_names else None) \
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
    events = EventLog(plan.session, enabled=chief)
    events.start(first_epoch=plan.restore_epoch + 1, last_epoch=plan.last_epoch, steps=steps, images=len(images),
                 batch_size=batch_size)
    try:
        return _train(plan, state, training_images, strategy, steps, fid_scorer, progress, events)
    except UserError as e:
        events.write("error", message=str(e))
        raise
    except BaseException as e:  # a crash or an abort: the record says so, the traceback goes to stderr
        events.write("error", message=f"{type(e).__name__}: {e}")
        raise


def _train(plan, state, training_images, strategy, steps, fid_scorer, progress, events):
    cfg, images, batch_size = plan.cfg, training_images.images, plan.cfg["batch_size"]
    chief = events.enabled
    checkpoints = Checkpoints(state, plan, chief)
    probabilities = class_frequencies(training_images.labels, len(state.class_names)) if state.class_names else None
    train_step = make_train_step(state, cfg, strategy, batch_size, probabilities)
    print(f"Session {plan.number}: {len(images)} images from {training_images.source}, {steps} steps of "
          f"{batch_size} per epoch, epochs {plan.restore_epoch + 1}..{plan.last_epoch}, in {plan.session}")

    saved = plan.restore_epoch if plan.restore_prefix else None
    completed = plan.restore_epoch
    overfitting = []  # (r_t, steps) of this run's epochs
    unsaved = None  # a snapshot of the state at the end of the newest epoch without a checkpoint
    with GracefulStop() as stop:
        for epoch in range(plan.restore_epoch + 1, plan.last_epoch + 1):
            metrics = _train_epoch(epoch, plan, train_step, strategy, training_images, steps, stop, events)
            if metrics is None:
                break
            completed = epoch
            state.epoch.assign(epoch)
            if cfg["augment"] != "none":  # blank otherwise: no image was augmented, whatever augment_p says
                metrics["augment_p"] = float(state.augment_p.numpy())
            if fid_scorer and epoch % cfg["fid_every"] == 0:
                metrics["fid"] = fid_scorer.score(state.ema_generator, epoch, progress.rows())
            if chief:
                progress.record_epoch(epoch, state.samples(), metrics, state.sample_rows())
            note = ""
            if epoch % cfg["checkpoint_every"] == 0 or epoch == plan.last_epoch or stop.agreed:
                checkpoints.save(epoch)
                events.write("checkpoint", epoch=epoch, prefix=checkpoints.prefix(epoch))
                saved, unsaved = epoch, None
                if chief:
                    progress.write_summaries()
                note = f"  saved ckpt-{epoch}"
            else:
                unsaved = state.snapshot()
            events.write("epoch", epoch=epoch, last_epoch=plan.last_epoch, saved=saved == epoch,
                         metrics={k: v for k, v in metrics.items() if k not in ("seconds", "images_per_sec")},
                         seconds=metrics["seconds"], images_per_sec=metrics["images_per_sec"])
            fid_note = f"  FID {metrics['fid']:.2f} ({fid_scorer.best})" if "fid" in metrics else ""
            augment_note = f"  augment_p {metrics['augment_p']:.3f}" if "augment_p" in metrics else ""
            print(f"epoch {epoch}/{plan.last_epoch}  " + "  ".join(f"{k} {metrics[k]:.4f}" for k in METRICS) +
                  f"{augment_note}  {metrics['seconds']:.0f}s  {metrics['images_per_sec']:.0f} img/s{fid_note}{note}",
                  flush=True)
            overfitting.append((metrics["r_t"], steps))
            warning = overfitting_warning(overfitting)
            if warning:
                print(f"  {warning}", flush=True)
            if stop.agreed:
                break

    if stop.agreed:
        if unsaved is not None:
            # The steps since the end of that epoch are dropped, so ckpt-E is exactly epoch E's state.
            state.load_snapshot(unsaved)
            checkpoints.save(completed)
            saved = completed
        if chief:
            progress.write_summaries()
        resume = plan.resume_command(saved) if saved else f"python DCGAN_train.py {plan.number} {plan.last_epoch}"
        events.write("stop", completed=completed, saved=saved, resume=resume, signal=stop.signum)
        print(f"Stopped after epoch {completed}; saved checkpoints are intact. Resume with: {resume}")
        # A worker stopped by another worker's signal exits as if it had been sent SIGTERM.
        return 128 + (stop.signum or signal.SIGTERM)
    events.write("done", last_epoch=plan.last_epoch)
    print(f"Done. Samples: {progress.images_dir}/, animation: {progress.gif_path}, "
          f"metrics: {progress.metrics_path}, plot: {progress.plot_path}")
    return 0


class FidScorer:
    """FID of the averaged generator against the training images every fid_every epochs."""

    def __init__(self, cfg, images, labels=None):
        """labels: a conditional session's, whose class shares the generated images get."""
        # InceptionV3 is loaded only when FID is asked for.
        from metrics import classes, inception, sources
        self.cfg, self._sources = cfg, sources
        self.labels = None if labels is None else classes.generated_labels(labels, len(cfg["class_names"]),
                                                                           cfg["fid_num"], cfg["seed"])
        self.extractor = inception.InceptionFeatures(cfg["fid_weights"] or inception.STANDARD)
        print(f"FID every {cfg['fid_every']} epochs on {cfg['fid_num']} images: {self.extractor.description}")
        self.real = sources.real_stats_for_config(cfg, self.extractor, num=cfg["fid_num"], images=images)
        self.best = ""

    def score(self, generator, epoch, earlier_rows):
        value = self._sources.fid_of_generator(generator, self.cfg, self.real, self.cfg["fid_num"], self.extractor,
                                               seed=self.cfg["seed"], labels=self.labels)
        # The best epoch is read back from metrics.csv, so it survives restores.
        scored = [(row["fid"], int(row["epoch"])) for row in earlier_rows if row.get("fid") is not None]
        best_fid, best_epoch = min(scored + [(value, epoch)])
        self.best = f"best {best_fid:.2f} at epoch {best_epoch}"
        return value


def _train_epoch(epoch, plan, train_step, strategy, training_images, steps, stop, events):
    """Metrics of one epoch, or None when a stop signal interrupted it."""
    cfg, batch_size = plan.cfg, plan.cfg["batch_size"]
    # Each worker feeds its own share of every global batch to its local replicas, in order.
    dataset = strategy.distribute_datasets_from_function(lambda context: epoch_dataset(
        training_images.images, batch_size, cfg["seed"], epoch, cfg["flip"], context.input_pipeline_id,
        context.num_input_pipelines, context.get_per_replica_batch_size(batch_size),
        labels=training_images.labels if cfg["conditional"] else None))
    if sys.stdout.isatty():
        print(f"Epoch {epoch}/{plan.last_epoch}")
    bar = ProgressReport(steps, f"epoch {epoch}/{plan.last_epoch} step", metrics=METRICS)
    totals = np.zeros(len(METRICS))
    start = time.monotonic()
    step = 0
    batches = enumerate(iter(dataset), start=1)
    try:
        for step, batch in batches:
            *values, stop_flags = train_step(batch, stop.flag, step).numpy()
            totals += values
            means = dict(zip(METRICS, totals / step))
            bar.update(step, means)
            eta = (time.monotonic() - start) / step * (steps - step)
            events.step(step == steps, epoch=epoch, last_epoch=plan.last_epoch, step=step, steps=steps, eta=eta,
                        metrics=means)
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
    seconds = time.monotonic() - start
    metrics = dict(zip(METRICS, totals / step))
    return dict(metrics, seconds=seconds, images_per_sec=step * cfg["batch_size"] / seconds)


class Checkpoints:
    """The chief saves the session's checkpoints. Under MultiWorkerMirroredStrategy every worker
    must take part in each save, so the others save into a temporary folder that exists only
    during the save (the pattern of TensorFlow's multi-worker tutorial)."""

    def __init__(self, state, plan, chief):
        self.chief = chief
        self.directory = str(plan.session) if chief else \
            os.path.join(tempfile.gettempdir(), f"dcgan-worker-{os.getpid()}-training_{plan.number}")
        self.manager = tf.train.CheckpointManager(state.checkpoint, self.directory, max_to_keep=plan.cfg["max_to_keep"],
                                                  checkpoint_name=sessions.CHECKPOINT_NAME)

    def prefix(self, epoch):
        return os.path.join(self.directory, f"{sessions.CHECKPOINT_NAME}-{epoch}")

    def save(self, epoch):
        try:
            self.manager.save(checkpoint_number=epoch)
        except (tf.errors.OpError, OSError) as e:
            if self.chief:  # drop the half-written files; the state file never listed them
                sessions.reconcile(self.directory)
            raise UserError(f"Saving the checkpoint of epoch {epoch} failed "
                            f"({type(e).__name__}: {getattr(e, 'message', e)}). Earlier checkpoints are intact; "
                            "free disk space and resume from the newest one.") from None
        finally:
            if not self.chief:
                shutil.rmtree(self.directory, ignore_errors=True)


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
