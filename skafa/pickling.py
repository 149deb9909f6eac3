"""What a pickle of a classifier holds: the state trimmed for prediction, and the version stamp.

By default (``keep_training_state=False``) a pickled classifier holds only what prediction needs:
the module, the tokenizer, the labels and the parameters; the optimizers, the discriminator, the
callbacks and the training history are left out. skorch maps CUDA tensors to the CPU when no GPU
is visible at load time. Unpickling runs code chosen by whoever wrote the file, so load pickles
from trusted sources only. See the persistence page of the documentation.
"""

import copy
import inspect
import warnings

import torch
import transformers
from packaging.version import InvalidVersion, Version
from skorch.history import History

from ._version import __version__

VERSION_STAMP_KEY = "_skafa_versions"


class VersionMismatchWarning(UserWarning):
    """The model was saved with a different skafa or transformers major version."""


def version_stamp():
    """The versions that wrote a model: skafa, transformers and torch."""
    return {"skafa": __version__, "transformers": transformers.__version__, "torch": torch.__version__}


def _major(version):
    try:
        return Version(str(version)).major
    except InvalidVersion:
        return None


def check_version_stamp(stamp, source):
    """Warn when ``stamp`` names another skafa or transformers major version than the running one."""
    current = version_stamp()
    for library in ("skafa", "transformers"):
        saved = stamp.get(library)
        if saved is not None and _major(saved) != _major(current[library]):
            warnings.warn(
                f"{source} was saved with {library} {saved}, but {library} {current[library]} is installed "
                f"(a different major version). It may load wrongly or predict differently; re-save it with "
                f"the installed versions, or install {library} {saved}.",
                VersionMismatchWarning,
                stacklevel=3,
            )


def prediction_net(net):
    """A shallow copy of a fitted :class:`~skafa.net.AFANet` holding only what prediction needs.

    The classifier module is shared, not copied; the optimizers, criterion, discriminator,
    callbacks (which may hold weight snapshots) and history are left out, and skorch refuses to
    train the copy. The original net is not changed.
    """
    state = dict(net.__dict__)
    # Every attribute that may hold tensors but the classifier module itself.
    state.update({name: None for name in net.cuda_dependent_attributes_ if name != "module_"})
    state.update(
        callbacks=[],
        callbacks_=[],
        history_=History(),
        train_split=None,
        iterator_train=None,
        _trimmed_for_prediction=True,
    )
    trimmed = object.__new__(type(net))
    trimmed.__dict__.update(state)
    return trimmed


def is_prediction_only(net):
    """Whether ``net`` was made by :func:`prediction_net` (it cannot train)."""
    return getattr(net, "_trimmed_for_prediction", False)


class PredictionPickleMixin:
    """Pickling that keeps only what prediction needs unless ``keep_training_state`` is true.

    ``copy.copy`` and ``copy.deepcopy`` keep everything: only pickling trims the state.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "net_" in state and not state.get("keep_training_state", False):
            state["net_"] = prediction_net(state["net_"])
            state.pop("history_", None)
        state[VERSION_STAMP_KEY] = version_stamp()
        return state

    def __setstate__(self, state):
        state = dict(state)
        stamp = state.pop(VERSION_STAMP_KEY, None)
        if stamp is not None:
            check_version_stamp(stamp, f"This pickled {type(self).__name__}")
        state = self._upgrade_state(state, (stamp or {}).get("skafa"))
        # A parameter added since the pickle was written takes its default, so get_params works.
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty:
                state.setdefault(name, param.default)
        super().__setstate__(state)

    def _upgrade_state(self, state, version):
        """The unpickled ``state`` of an object pickled by skafa ``version``, brought up to date (a hook)."""
        return state

    def __copy__(self):
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self, memo):
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied
