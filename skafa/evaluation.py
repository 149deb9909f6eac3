"""Scores of a fitted classifier on labelled texts: accuracy, macro-F1, per-class report, confusion matrix."""

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.utils.validation import check_is_fitted

from .validation import check_labels


@dataclass
class Evaluation:
    """What :func:`evaluate` measured.

    Labels are shown as text (``str`` of the label), the classifier's classes first in the order
    of ``classes_``, then labels of the data that the classifier never saw in training.

    Attributes
    ----------
    n_rows : int
        Texts scored.
    accuracy : float
    macro_f1 : float
        Unweighted mean of the per-class F1 over every label present in the data or predicted.
    labels : list of str
        Order of ``per_class`` and of the confusion matrix's rows and columns.
    per_class : dict
        ``{label: {"precision", "recall", "f1-score", "support"}}`` (scikit-learn's report).
    confusion : list of list of int
        Rows: true labels; columns: predicted labels.
    unseen_labels : list of str
        Labels of the data that are not among the classifier's classes: always wrong, and
        reported rather than refused.
    """

    n_rows: int
    accuracy: float
    macro_f1: float
    labels: list
    per_class: dict
    confusion: list
    unseen_labels: list

    def to_dict(self):
        """The evaluation as plain JSON-ready values."""
        return asdict(self)

    def summary(self):
        """A few lines for people: the scores, the per-class report and the confusion matrix."""
        width = max(len("label"), *(len(label) for label in self.labels))
        lines = [
            f"rows scored   {self.n_rows}",
            f"accuracy      {self.accuracy:.4f}",
            f"macro-F1      {self.macro_f1:.4f}",
            "",
            f"{'label':<{width}}  precision  recall  f1-score  support",
        ]
        for label in self.labels:
            row = self.per_class[label]
            lines.append(
                f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1-score']:8.4f}  "
                f"{int(row['support']):7d}"
            )
        cell = max(6, width, *(len(str(n)) for row in self.confusion for n in row))
        lines += ["", "confusion matrix (rows: true label, columns: predicted)"]
        lines.append(" " * (width + 2) + "".join(f"{label:>{cell + 1}}" for label in self.labels))
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"{label:<{width}}  " + "".join(f"{n:>{cell + 1}}" for n in row))
        if self.unseen_labels:
            lines += ["", f"labels not seen in training (always wrong): {', '.join(self.unseen_labels)}"]
        return "\n".join(lines)


def _as_text(labels):
    """Labels as text: a label whose text is a class's text is that class (so "1" from a CSV is class 1)."""
    return np.array([str(label) for label in labels], dtype=object)


def evaluate(clf, X, y):
    """Score a fitted classifier on texts ``X`` with true labels ``y``.

    Labels are compared by their text, so labels read from a CSV file (always text) match a
    classifier trained on integer labels. Labels the classifier never saw are counted as errors
    and listed in ``unseen_labels``.

    Parameters
    ----------
    clf : AFASentimentClassifier
        A fitted classifier.
    X : sequence of str
    y : array-like of shape (n_samples,)

    Returns
    -------
    Evaluation
    """
    check_is_fitted(clf)
    y = check_labels(y, len(X))
    classes = [str(c) for c in clf.classes_]
    if len(set(classes)) != len(classes):
        raise ValueError(f"The classifier's classes {classes} are not distinct as text; compare them in Python.")
    truth = _as_text(y)
    predicted = _as_text(clf.predict(X))
    unseen = sorted(set(truth) - set(classes))
    labels = classes + unseen
    report = classification_report(truth, predicted, labels=labels, output_dict=True, zero_division=0)
    return Evaluation(
        n_rows=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, average="macro", zero_division=0)),
        labels=labels,
        per_class={label: {k: float(v) for k, v in report[label].items()} for label in labels},
        confusion=confusion_matrix(truth, predicted, labels=labels).tolist(),
        unseen_labels=unseen,
    )
