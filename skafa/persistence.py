"""Loading a saved classifier: :func:`load` for the safe folder format, :func:`load_any` for pickles too.

The folder format itself is :mod:`skafa.safe_format` (written by
:meth:`AFASentimentClassifier.save <skafa.AFASentimentClassifier.save>`); what a pickle holds is
:mod:`skafa.pickling`. This module builds the estimator from them, so it imports the estimator and
nothing imports it back but the package's entry points. See the persistence page of the
documentation.
"""

import warnings
from pathlib import Path

from . import safe_format
from .estimator import AFASentimentClassifier
from .net import AFANet, WeightedCrossEntropy
from .params import AFAOptions, rename_legacy
from .pickling import VersionMismatchWarning, prediction_net
from .safe_format import ModelFileError


def _known_params(params, version):
    """The saved parameters this skafa knows (older names renamed, older defaults made explicit); warns about the others."""
    params = rename_legacy(params, version)
    if isinstance(params.get("afa"), dict):
        params["afa"] = AFAOptions(**params["afa"].get("AFAOptions", {}))
    known = set(AFASentimentClassifier().get_params(deep=False))
    unknown = sorted(name for name in params if name not in known)
    if unknown:
        warnings.warn(
            f"The saved model has parameters this skafa does not know, which are ignored: {unknown}.",
            VersionMismatchWarning,
            stacklevel=3,
        )
    return {name: value for name, value in params.items() if name not in unknown}


def load(path):
    """Load a classifier saved by :meth:`AFASentimentClassifier.save`, without running code from it.

    Reads only ``skafa.json``, ``model.safetensors``, the backbone's ``config.json`` and the
    tokenizer files, after checking every file's size and checksum; nothing is unpickled and no
    remote code is trusted. The model is placed on the CPU.

    Parameters
    ----------
    path : str or path-like
        A folder written by ``save``.

    Returns
    -------
    AFASentimentClassifier
        A fitted classifier ready to predict; it carries no training state.

    Raises
    ------
    ModelFileError
        The folder is not a skafa model, or a file is missing, truncated or corrupted.

    Warns
    -----
    VersionMismatchWarning
        The model was saved with a different skafa or transformers major version.
    """
    saved = safe_format.read(path)
    if saved.estimator != AFASentimentClassifier.__name__:
        raise ModelFileError(f"{saved.folder} holds a {saved.estimator!r}, not an AFASentimentClassifier.")
    try:
        clf = AFASentimentClassifier(**_known_params(saved.params, saved.versions.get("skafa")))
    except TypeError as exc:
        raise ModelFileError(f"{saved.folder} has invalid parameters: {exc}") from exc
    net = AFANet(
        saved.module,
        criterion=WeightedCrossEntropy,
        batch_size=clf.batch_size,
        pad_token_id=saved.tokenizer.pad_token_id,
        max_batch_tokens=clf.max_batch_tokens,
        predict_nonlinearity=None,
        train_split=None,
        device="cpu",
        verbose=0,
    ).initialize()
    saved.module.eval()
    # Fitted attributes are set only once everything has loaded: no half-loaded classifier.
    for name, value in saved.fitted.items():
        setattr(clf, name, value)
    clf.classes_ = saved.classes
    clf.tokenizer_ = saved.tokenizer
    clf.device_ = "cpu"
    clf.net_ = prediction_net(net)
    return clf


def load_any(path):
    """Load a classifier from a safe-format folder (:func:`load`) or a pickle / joblib file.

    Pickles run code chosen by whoever wrote them: pass only files from trusted sources.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    AFASentimentClassifier
    """
    import joblib

    path = Path(path)
    if path.is_dir():
        return load(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}: expected a folder written by save() or a pickle/joblib file.")
    try:
        clf = joblib.load(path)
    except Exception as exc:
        raise ModelFileError(
            f"{path} could not be unpickled ({exc.__class__.__name__}: {exc}); it is truncated, corrupted or not "
            "a pickle/joblib file."
        ) from exc
    if not isinstance(clf, AFASentimentClassifier):
        raise ModelFileError(f"{path} holds a {type(clf).__name__}, not an AFASentimentClassifier.")
    return clf
