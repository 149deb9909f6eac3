"""skafa: scikit-learn transformer text classifiers trained with Adversarial Feedback for Attention."""

from ._version import __version__
from .estimator import AFASentimentClassifier
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
    "ModelFileError",
    "VersionMismatchWarning",
    "__version__",
    "load",
    "predict_file",
]
