"""skafa: scikit-learn transformer text classifiers trained with Adversarial Feedback for Attention."""

from .estimator import AFASentimentClassifier
from .report import AttentionReport

__version__ = "0.1.0"

__all__ = ["AFASentimentClassifier", "AttentionReport", "__version__"]
