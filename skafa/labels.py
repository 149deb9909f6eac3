"""The user's labels and the model's class indices: encoding, checks and class weights."""

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets


def encode_new_labels(y, classes=None):
    """Classes (sorted, of ``y``'s type) and ``y`` as indices into them, for a model being built.

    ``classes`` adds labels that ``y`` may lack (``partial_fit``). A continuous or multi-output
    ``y`` is refused: a classifier cannot learn one class per distinct float.
    """
    check_classification_targets(y)
    if classes is not None:
        classes = np.asarray(classes)
        check_classification_targets(classes)
    encoder = LabelEncoder().fit(y if classes is None else np.concatenate([classes, y]))
    if len(encoder.classes_) < 2:
        raise ValueError(
            f"y has a single class ({encoder.classes_[0]!r}); a classifier needs at least two classes."
        )
    return encoder.classes_, encoder.transform(y)


def encode_known_labels(classes, y):
    """``y`` as indices into the fitted ``classes``; labels outside them are refused by name."""
    unseen = sorted(set(np.unique(y).tolist()) - set(classes.tolist()), key=str)
    if unseen:
        raise ValueError(
            f"y has labels the model was not built for: {unseen}; known classes are "
            f"{classes.tolist()}. Refit without warm_start (or pass all classes to the "
            "first partial_fit)."
        )
    return np.searchsorted(classes, y)


def check_same_classes(classes, fitted_classes):
    """Refuse a later ``partial_fit(classes=...)`` that names other classes than the model's."""
    if classes is None:
        return
    given = np.unique(np.asarray(classes)).tolist()
    if set(given) != set(fitted_classes.tolist()):
        raise ValueError(
            f"classes={given} differs from the classes the model was built with, "
            f"{fitted_classes.tolist()}; a model's classes are fixed by its first fit."
        )


def class_weights(class_weight, classes, y_encoded):
    """Per-class weights of the cross-entropy in ``classes`` order, or None."""
    if class_weight is None:
        return None
    if class_weight == "balanced":
        return compute_class_weight("balanced", classes=np.arange(len(classes)), y=y_encoded)
    unknown = [label for label in class_weight if label not in set(classes.tolist())]
    if unknown:
        raise ValueError(f"class_weight has labels not present in y: {unknown}.")
    return np.array([float(class_weight.get(label, 1.0)) for label in classes.tolist()])
