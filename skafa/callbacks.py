"""Training as small skorch callbacks that own their state: schedule, divergence, interruption, crash recovery."""

import copy
import hashlib
import os
import re
import sys
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback, PrintLog
from skorch.history import History

from .atomic import atomic_path
from .progress import interactive


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class EpochTable(PrintLog):
    """skorch's per-epoch table, without its colour codes where it is not read on a terminal.

    In a log file or a pipe the codes are noise; the table goes to stdout (``print``), so that is
    the stream checked.
    """

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not interactive(sys.stdout):
            text = ANSI_ESCAPE.sub("", text)
        return text


class LinearWarmupDecay:
    """Learning-rate factor of optimizer step ``t``: linear warm-up to 1, then linear decay to 0.

    ``offset`` is the step at which this schedule starts (a warm-started fit restarts it).
    """

    def __init__(self, total_steps, warmup_steps, offset=0):
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = int(warmup_steps)
        self.offset = int(offset)

    def __call__(self, step):
        step -= self.offset
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        return max(0.0, (self.total_steps - step) / max(1, self.total_steps - self.warmup_steps))


def constant_schedule(step):
    """Learning-rate factor 1 at every step (used by ``partial_fit``)."""
    return 1.0


class StepSchedule(Callback):
    """Set the classifier's learning rate before every training batch from the step counter.

    The factor depends only on ``net.steps_``, so a resumed or warm-started fit continues the
    schedule exactly; the discriminator's optimizer keeps its own constant rate.

    Parameters
    ----------
    schedule : callable
        Maps the optimizer step to a factor of ``net.lr``.
    """

    def __init__(self, schedule):
        self.schedule = schedule

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            lr = net.lr * self.schedule(net.steps_)
            for group in net.optimizer_.param_groups:
                group["lr"] = lr


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


class EpochSnapshot(Callback):
    """Keep a CPU copy of the classifier as of the last completed epoch, and fall back to it.

    When a batch loss is not finite, the copy is put back and :class:`TrainingDiverged` is
    raised; when training is interrupted mid-epoch (Ctrl-C, which skorch turns into the end of
    training), the copy is put back with a warning. Either way the model left behind is the last
    complete one, and its history ends there. The copy is dropped when training ends: kept, it
    would double the model's memory and its pickle with ``keep_training_state=True``.
    """

    def initialize(self):
        self.release()
        return self

    def on_train_begin(self, net, **kwargs):
        self._save(net)

    def on_epoch_begin(self, net, **kwargs):
        self.in_epoch_ = True

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if training and loss is not None and not torch.isfinite(torch.as_tensor(loss)).all():
            epoch = len(net.history)
            self.restore(net)
            raise TrainingDiverged(
                f"Training diverged in epoch {epoch}: the loss became {float(torch.as_tensor(loss).detach())}. "
                "Lower `lr` or `afa_weight`, or check the inputs; the model was restored to the end "
                "of the last completed epoch."
            )

    def on_epoch_end(self, net, **kwargs):
        self._save(net)

    def on_train_end(self, net, **kwargs):
        if self.in_epoch_:
            self.restore(net)
            warnings.warn(
                f"Training was interrupted; the model is the one at the end of epoch {len(net.history)}.",
                UserWarning,
                stacklevel=2,
            )
        self.release()

    def _save(self, net):
        self.state_ = {k: v.detach().to("cpu", copy=True) for k, v in net.module_.state_dict().items()}
        self.n_epochs_ = len(net.history)
        self.in_epoch_ = False

    def restore(self, net):
        """Reload the last completed epoch's weights, drop the unfinished epoch's history, release the copy."""
        net.module_.load_state_dict(self.state_)
        del net.history[self.n_epochs_ :]
        self.release()

    def release(self):
        self.state_ = None
        self.in_epoch_ = False


class ResumableCheckpoint(Callback):
    """Save everything needed to continue training exactly after each epoch, and resume from it.

    The file holds the classifier, discriminator and optimizer states, the history, the step
    counter (which sets the learning rate and the AFA warm-up) and reward baseline, and the random
    generator states. When training begins and the file exists with the same ``fingerprint``,
    the net is put back in that state and ``net.resumed_epochs_`` says how many of this fit's
    epochs it already holds, so a fit resumed from it ends with the same model as an
    uninterrupted one (skorch's ``LoadInitState`` pattern). A file with another fingerprint is
    left alone and training starts afresh.

    Parameters
    ----------
    path : str or None
        File to write (overwritten each epoch, atomically); None disables the callback.
    fingerprint : str or None
        Identifies the data and parameters (see :func:`fingerprint`).
    """

    def __init__(self, path=None, fingerprint=None):
        self.path = path
        self.fingerprint = fingerprint

    def on_train_begin(self, net, **kwargs):
        net.resumed_epochs_ = 0
        if self.path is None or not os.path.exists(self.path):
            return
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state.get("fingerprint") != self.fingerprint:
            return
        done_before = len(net.history)
        load_training_state(net, state)
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        net.resumed_epochs_ = len(net.history) - done_before
        if net.verbose:
            print(f"Resuming from {self.path}: {len(net.history)} epoch(s) done.")

    def on_epoch_end(self, net, **kwargs):
        if self.path is None:
            return
        state = {
            **training_state(net),
            "fingerprint": self.fingerprint,
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }
        with atomic_path(self.path) as partial:
            torch.save(state, partial)

    def on_train_end(self, net, **kwargs):
        # The fit completed: nothing is left to resume.
        if self.path is not None and os.path.exists(self.path):
            os.remove(self.path)


# The net's own training counters, besides its modules, optimizers and history.
COUNTERS = ("steps_", "reward_baseline_", "disc_skill_")


def training_state(net):
    """What training has made of ``net``: module and optimizer states, history and counters."""
    return {
        "modules": {name: getattr(net, name + "_").state_dict() for name in net._modules},
        "optimizers": {name: getattr(net, name + "_").state_dict() for name in net._optimizers},
        "history": net.history.to_list(),
        "counters": {name: getattr(net, name) for name in COUNTERS},
    }


def load_training_state(net, state, *, keep_optimizer_settings=False):
    """Put :func:`training_state` back into an initialised ``net``.

    With ``keep_optimizer_settings`` the optimizers keep their own hyper-parameters (learning
    rate, weight decay) and take only their moments from ``state``, so parameters changed since
    apply.
    """
    for name, module_state in state["modules"].items():
        getattr(net, name + "_").load_state_dict(module_state)
    for name, optimizer_state in state["optimizers"].items():
        optimizer = getattr(net, name + "_")
        settings = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        optimizer.load_state_dict(optimizer_state)
        if keep_optimizer_settings:
            for group, setting in zip(optimizer.param_groups, settings):
                group.update(setting)
    net.history = History(copy.deepcopy(state["history"]))
    for name, value in state["counters"].items():
        setattr(net, name, value)


def fingerprint(params, X, y, sample_weight):
    """A hash of the parameters that shape training and of the training data."""
    digest = hashlib.sha256(repr(sorted(params.items())).encode())
    for text in X:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(np.asarray(y).astype(str).tobytes())
    digest.update(np.asarray(sample_weight, dtype=np.float32).tobytes())
    return digest.hexdigest()
