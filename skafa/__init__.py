"""skafa: scikit-learn transformer text classifiers trained with Adversarial Feedback for Attention."""

from .estimator import AFASentimentClassifier

__version__ = "0.1.0"

__all__ = ["AFASentimentClassifier", "__version__"]
