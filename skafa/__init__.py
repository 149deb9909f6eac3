"""skafa: scikit-learn transformer text classifiers trained with Adversarial Feedback for Attention."""

from ._version import __version__
from .estimator import AFASentimentClassifier
from .evaluation import evaluate
from .model_card import ModelCardData
from .params import AFAOptions
from .persistence import load
from .pickling import VersionMismatchWarning
from .report import AttentionReport
from .safe_format import ModelFileError
from .scoring import predict_file

__all__ = [
    "AFAOptions",
    "AFASentimentClassifier",
    "AttentionReport",
    "ModelCardData",
    "ModelFileError",
    "VersionMismatchWarning",
    "__version__",
    "evaluate",
    "load",
    "predict_file",
]
