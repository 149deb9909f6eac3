"""skafa: scikit-learn transformer text classifiers trained with Adversarial Feedback for Attention."""

from .estimator import AFASentimentClassifier
from .persistence import ModelFileError, VersionMismatchWarning, load
from .report import AttentionReport
from .scoring import predict_file

__version__ = "0.1.0"

__all__ = [
    "AFASentimentClassifier",
    "AttentionReport",
    "ModelFileError",
    "VersionMismatchWarning",
    "__version__",
    "load",
    "predict_file",
]
