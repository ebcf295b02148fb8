"""Saving a session's checkpoints while it trains: pruned to max_to_keep, taken part in by every
worker of a cluster, and never leaving half-written files behind."""
import os
import shutil
import tempfile

import tensorflow as tf

from training import sessions
from utils.errors import UserError


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
