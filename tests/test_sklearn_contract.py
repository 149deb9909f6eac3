"""The scikit-learn contract, for an estimator whose input is text.

``check_estimator`` generates no checks for string input, so the data-independent checks are
called one by one and the data-dependent ones are rewritten here with texts.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import estimator_checks as checks

from skafa import AFAOptions, AFASentimentClassifier

DATA_INDEPENDENT_CHECKS = [
    checks.check_estimator_cloneable,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_parameters_default_constructible,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_mixin_order,
    checks.check_estimators_unfitted,
]


@pytest.mark.parametrize("check", DATA_INDEPENDENT_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_data_independent_check(check):
    check(AFASentimentClassifier.__name__, AFASentimentClassifier())


def test_tags_declare_string_input():
    tags = AFASentimentClassifier().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.estimator_type == "classifier"


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "decision_function", "score"])
def test_unfitted_estimator_raises_not_fitted(method):
    args = (["a text"], [0]) if method == "score" else (["a text"],)
    with pytest.raises(NotFittedError):
        getattr(AFASentimentClassifier(), method)(*args)


@pytest.fixture(scope="module")
def fitted(tiny_bert, toy_data):
    X, y = toy_data
    params = dict(backbone=tiny_bert, epochs=1, batch_size=16, lr=1e-3, device="cpu", random_state=0, verbose=0)
    clf = AFASentimentClassifier(**params)
    returned = clf.fit(X, y)
    return clf, returned, params


def test_fit_returns_self_and_keeps_parameters(fitted):
    clf, returned, params = fitted
    assert returned is clf
    assert {k: clf.get_params()[k] for k in params} == params
    assert clf.device_ == "cpu"
    assert len(clf.history_) == 1


def test_discriminator_is_a_registered_skorch_module(fast_params, toy_data):
    # Registered modules and optimizers are moved to the device and pickled device-portably.
    net = AFASentimentClassifier(**fast_params, afa=AFAOptions(reward="discriminator")).fit(*toy_data).net_
    assert net._modules == ["module", "discriminator"]
    assert net._optimizers == ["optimizer", "discriminator_optimizer"]
    assert {"discriminator_", "discriminator_optimizer_"} <= set(net.cuda_dependent_attributes_)


@pytest.mark.parametrize("params", [{"afa": False}, {"afa__reward": "kl"}], ids=["plain", "kl"])
def test_without_a_discriminator_only_the_classifier_is_registered(fast_params, toy_data, params):
    X, y = toy_data
    net = AFASentimentClassifier(**fast_params).set_params(**params).fit(X, y).net_
    assert net._modules == ["module"] and net._optimizers == ["optimizer"]


def test_outputs_have_sklearn_shapes_and_agree(fitted, toy_data):
    clf, _, _ = fitted
    X, y = toy_data
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-4)
    decision = clf.decision_function(X)
    assert decision.shape == (len(X),)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(decision > 0).astype(int)])
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) == np.mean(clf.predict(X) == y)


def test_prediction_order_matches_input_order(fitted, toy_data):
    clf, _, _ = fitted
    X, _ = toy_data
    texts = [X[0], X[1] + " " + X[2] + " " + X[3], X[4]]  # different lengths, sorted internally
    proba = clf.predict_proba(texts)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(clf.predict_proba([text])[0], proba[i], atol=1e-5)


def test_accepts_list_array_series_and_one_column_frame(fitted, toy_data):
    clf, _, _ = fitted
    X, _ = toy_data
    expected = clf.predict_proba(X[:5])
    for variant in (tuple(X[:5]), np.array(X[:5], dtype=object), pd.Series(X[:5]), pd.DataFrame({"t": X[:5]})):
        np.testing.assert_allclose(clf.predict_proba(variant), expected, atol=1e-6)


def test_pickle_round_trip_gives_identical_probabilities(fitted, toy_data):
    clf, _, _ = fitted
    X, _ = toy_data
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "labels",
    [np.array(["neg", "pos"]), np.array([3, 7]), np.array([False, True]), np.array(["b", "a", "c"])],
    ids=["str", "int", "bool", "three-str"],
)
def test_labels_round_trip_through_classes(fast_params, toy_data, labels):
    X, y = toy_data
    y_user = labels[np.arange(len(X)) % len(labels)]
    clf = AFASentimentClassifier(**fast_params).fit(X, y_user)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    pred = clf.predict(X)
    assert pred.dtype == y_user.dtype and set(pred) <= set(labels)
    assert clf.predict_proba(X).shape == (len(X), len(labels))
    if len(labels) > 2:
        assert clf.decision_function(X).shape == (len(X), len(labels))


def test_one_class_is_a_clear_error(fast_params, toy_data):
    X, _ = toy_data
    with pytest.raises(ValueError, match="single class"):
        AFASentimentClassifier(**fast_params).fit(X, ["pos"] * len(X))


def test_random_state_makes_cpu_fits_identical(fast_params, toy_data):
    X, y = toy_data
    a = AFASentimentClassifier(**fast_params).fit(X, y).predict_proba(X)
    b = AFASentimentClassifier(**fast_params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_fit_does_not_touch_the_global_torch_seed(fast_params, toy_data):
    import torch

    X, y = toy_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    AFASentimentClassifier(**fast_params).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_afa_parameters_in_a_pipeline(fast_params, toy_data, n_jobs):
    """In a Pipeline under GridSearchCV (in this process or in worker processes) each candidate's
    parameters reach the fitted model: the cross-validated log-loss differs between candidates
    and equals that of the same fits made by hand, and the refitted best estimator is the model
    a direct fit with the best parameters gives."""
    X, y = toy_data
    # lr: one epoch then moves the candidates' models apart. n_threads=1: worker processes get one
    # thread each, and the same arithmetic everywhere lets the hand-made fits match to 1e-6.
    # The discriminator's reward: on a random tiny backbone the predictions barely differ, so the
    # default KL reward has no spread and every candidate would train the same model.
    params = {**fast_params, "lr": 5e-3, "n_threads": 1, "afa": AFAOptions(reward="discriminator")}
    pipe = Pipeline([("clf", AFASentimentClassifier(**params))])
    grid = GridSearchCV(
        pipe,
        {"clf__afa_weight": [0.5, 1.0], "clf__mask_ratio": [0.15, 0.3]},
        cv=2,
        scoring="neg_log_loss",
        n_jobs=n_jobs,
        error_score="raise",
    )
    grid.fit(X, y)
    results = grid.cv_results_
    assert len(results["params"]) == 4
    # Fits are deterministic, so candidates whose parameters did not all arrive would tie exactly.
    assert len(set(results["mean_test_score"])) == 4, "some candidates trained the same model"

    candidate = 3  # afa_weight=1.0, mask_ratio=0.3: neither is the default
    chosen = {name.removeprefix("clf__"): value for name, value in results["params"][candidate].items()}
    X_array = np.array(X, dtype=object)
    for fold, (train, test) in enumerate(StratifiedKFold(2).split(X_array, y)):
        by_hand = AFASentimentClassifier(**params, **chosen).fit(X_array[train], y[train])
        expected = -log_loss(y[test], by_hand.predict_proba(X_array[test]), labels=by_hand.classes_)
        assert results[f"split{fold}_test_score"][candidate] == pytest.approx(expected, abs=1e-6)

    best = {name.removeprefix("clf__"): value for name, value in grid.best_params_.items()}
    direct = AFASentimentClassifier(**params, **best).fit(X, y)
    np.testing.assert_allclose(grid.predict_proba(X), direct.predict_proba(X), atol=1e-6)
    assert clone(grid.best_estimator_).get_params()["clf__afa_weight"] == best["afa_weight"]


def test_works_after_a_text_preprocessing_step_is_not_required():
    # A TF-IDF step turns texts into numbers; AFA needs the texts, so a clear error is expected.
    pipe = Pipeline([("tfidf", TfidfVectorizer()), ("clf", AFASentimentClassifier(verbose=0))])
    with pytest.raises(TypeError, match="must be a sequence of texts|must contain only strings"):
        pipe.fit(["good", "bad"], [1, 0])


def test_a_continuous_target_is_refused_not_turned_into_classes(fast_params, toy_data):
    X, _ = toy_data
    y = np.linspace(0.0, 1.0, len(X))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        AFASentimentClassifier(**fast_params).fit(X, y)


def test_random_state_accepts_a_random_state_instance(fast_params, toy_data):
    X, y = toy_data
    params = {**fast_params, "validation_fraction": 0.25}
    a = AFASentimentClassifier(**{**params, "random_state": np.random.RandomState(7)}).fit(X, y)
    b = AFASentimentClassifier(**{**params, "random_state": np.random.RandomState(7)}).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)
    # One generator, two fits: the second draws another seed, so another model.
    shared = np.random.RandomState(7)
    c = AFASentimentClassifier(**{**params, "random_state": shared}).fit(X, y)
    d = AFASentimentClassifier(**{**params, "random_state": shared}).fit(X, y)
    assert not np.allclose(c.predict_proba(X), d.predict_proba(X), atol=1e-6)
