"""AttentionReport: the table, its place in sklearn pipelines, and its errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils import estimator_checks as checks

from skafa import AFASentimentClassifier, AttentionReport
from skafa.backbone import load_tokenizer
from skafa.inspection import count_words

from .conftest import FILLER, fake_focus_data


@pytest.fixture(scope="module")
def params(tiny_bert):
    return dict(backbone=tiny_bert, epochs=1, batch_size=16, lr=1e-3, device="cpu", random_state=0, verbose=0)


@pytest.fixture(scope="module")
def clf(params, toy_data):
    return AFASentimentClassifier(**params).fit(*toy_data)


@pytest.fixture(scope="module")
def learned_clf(params, toy_data):
    """A classifier trained until it predicts from the decisive word, so deleting words moves
    its probabilities by far more than rounding (one epoch of ``clf`` moves them by ~1e-4)."""
    return AFASentimentClassifier(**{**params, "epochs": 4, "lr": 5e-3}).fit(*toy_data)


@pytest.fixture(scope="module")
def new_texts():
    return fake_focus_data(7, seed=1)[0] + ["riveting", "The MOVIE was riveting, truly riveting!"]


def sorted_attention(words):
    return sorted(words, key=lambda pair: -pair[1])


def test_pipeline_fits_a_clone_and_returns_one_row_per_text(params, toy_data, new_texts):
    X, y = toy_data
    wrapped = AFASentimentClassifier(**params)
    pipe = Pipeline([("report", AttentionReport(wrapped, top_k=3))])
    table = pipe.fit(X, y).transform(new_texts)
    report = pipe.named_steps["report"]
    assert not hasattr(wrapped, "classes_") and report.estimator_ is not wrapped
    assert isinstance(table, pd.DataFrame) and len(table) == len(new_texts)
    assert list(table.columns) == list(report.get_feature_names_out())
    # The table is the fitted clone's view of the new texts.
    np.testing.assert_array_equal(table.label, report.estimator_.predict(new_texts))
    np.testing.assert_allclose(table[["proba_neg", "proba_pos"]], report.estimator_.predict_proba(new_texts), atol=1e-5)


def test_table_agrees_with_the_classifier(clf, new_texts):
    table = AttentionReport(clf, prefit=True, top_k=3).fit(new_texts).transform(new_texts)
    np.testing.assert_array_equal(table.label, clf.predict(new_texts))
    np.testing.assert_allclose(table[["proba_neg", "proba_pos"]], clf.predict_proba(new_texts), atol=1e-5)
    for row, words in zip(table.itertuples(), clf.token_attention(new_texts)):
        expected = sorted_attention(words)[:3]
        shown = [(getattr(row, f"top{i}_word"), getattr(row, f"top{i}_weight")) for i in (1, 2, 3)]
        shown = [pair for pair in shown if not pd.isna(pair[0])]
        assert [w for w, _ in shown] == [w for w, _ in expected]
        np.testing.assert_allclose([v for _, v in shown], [v for _, v in expected], rtol=1e-6)
        weights = np.array([v for _, v in words])
        assert row.entropy == pytest.approx(-(weights * np.log(weights)).sum(), abs=1e-6)


def test_a_text_with_fewer_words_than_top_k_leaves_the_rest_empty(clf):
    table = clf.attention_report(["riveting"], top_k=2)
    assert table.top1_word[0] == "riveting" and table.top1_weight[0] == pytest.approx(1)
    assert pd.isna(table.top2_word[0]) and np.isnan(table.top2_weight[0])
    assert table.entropy[0] == 0


def test_word_counts_use_the_attention_word_split_and_ignore_case():
    tokenizer = load_tokenizer("sentence-transformers/all-MiniLM-L6-v2")
    texts = ["The unwatchableness, the END", "the end"]
    counts = count_words(tokenizer, texts)
    # "unwatchableness" is several word pieces but one word, as token_attention shows it.
    assert counts == {"the": 3, "unwatchableness": 1, ",": 1, "end": 2}


def test_classifier_learns_word_counts_at_fit(clf, toy_data):
    X, _ = toy_data
    assert sum(clf.word_counts_.values()) == sum(len(text.split()) for text in X)
    assert clf.word_counts_["riveting"] + clf.word_counts_["lackluster"] == len(X)


def test_frequent_share_is_attention_on_the_most_frequent_training_words(clf, new_texts):
    report = AttentionReport(clf, prefit=True, n_frequent=3).fit(new_texts)
    most_common = [word for word, _ in clf.word_counts_.most_common(3)]
    assert report.frequent_words_ == most_common
    table = report.transform(new_texts)
    for share, words in zip(table.frequent_share, clf.token_attention(new_texts)):
        assert share == pytest.approx(sum(w for word, w in words if word.lower() in most_common))
    everything = AttentionReport(clf, prefit=True, n_frequent=len(FILLER)).fit(new_texts)
    assert set(everything.frequent_words_) == set(FILLER)
    only_filler = everything.transform(["the movie was this film"])
    assert only_filler.frequent_share[0] == pytest.approx(1)


def test_a_packaged_lexicon_is_taken_by_name(clf):
    pytest.importorskip("vaderSentiment")
    texts = ["a riveting film", "a good film"]
    table = clf.attention_report(texts, lexicon="vader")
    good = dict(clf.token_attention(texts)[1])["good"]
    # "good" is a VADER word, "riveting", "a" and "film" are not.
    assert table.lexicon_share.tolist() == pytest.approx([0.0, good])


def test_lexicon_share_is_attention_on_lexicon_words_ignoring_case(clf, new_texts):
    table = clf.attention_report(new_texts, lexicon=["RIVETING", "Lackluster"])
    for share, words in zip(table.lexicon_share, clf.token_attention(new_texts)):
        assert share == pytest.approx(sum(w for word, w in words if word.lower() in {"riveting", "lackluster"}))
    assert table.lexicon_share.iloc[-2] == pytest.approx(1)  # the one-word text "riveting"


def test_faithfulness_matches_deleting_the_words_from_the_text(learned_clf, new_texts):
    """For the class predicted on the full text: comprehensiveness = p(text) - p(text without
    its top_k words), sufficiency = p(text) - p(those words alone). Recomputed here by deleting
    the words from the texts by hand; comprehensiveness is NaN only where no word is left."""
    clf, k = learned_clf, 2
    table = clf.attention_report(new_texts, top_k=k, faithfulness=True)
    proba = clf.predict_proba(new_texts)
    predicted = proba.argmax(axis=1)
    expected_comp, expected_suff = [], []
    for i, (text, words) in enumerate(zip(new_texts, clf.token_attention(new_texts))):
        # The words are separated by spaces or are punctuation, so joining the words kept with
        # spaces gives the tokens the classifier sees in the edited text.
        top = set(np.argsort([-w for _, w in words], kind="stable")[:k])
        without = " ".join(word for j, (word, _) in enumerate(words) if j not in top)
        only = " ".join(word for j, (word, _) in enumerate(words) if j in top)
        full = proba[i, predicted[i]]
        expected_comp.append(full - clf.predict_proba([without])[0, predicted[i]] if without else np.nan)
        expected_suff.append(full - clf.predict_proba([only])[0, predicted[i]])
    assert np.isnan(expected_comp).tolist() == [text == "riveting" for text in new_texts]
    assert np.nanmax(np.abs(expected_comp + expected_suff)) > 0.02  # the edits do move the probabilities
    np.testing.assert_allclose(table.comprehensiveness, expected_comp, atol=1e-5)  # NaN where expected NaN
    np.testing.assert_allclose(table.sufficiency, expected_suff, atol=1e-5)


def test_faithfulness_when_the_top_words_are_the_whole_text(learned_clf):
    table = learned_clf.attention_report(["riveting", "the movie", "riveting!"], top_k=2, faithfulness=True)
    # Nothing is left to predict on after deleting every word; keeping them all changes nothing.
    assert table.comprehensiveness.isna().all()
    np.testing.assert_allclose(table.sufficiency, 0, atol=1e-5)


def test_feature_names_follow_classes_top_k_and_options(clf):
    report = AttentionReport(clf, prefit=True, top_k=2, lexicon=["good"], faithfulness=True).fit(["a"])
    assert list(report.get_feature_names_out()) == [
        "label", "proba_neg", "proba_pos", "top1_word", "top1_weight", "top2_word", "top2_weight",
        "entropy", "frequent_share", "lexicon_share", "comprehensiveness", "sufficiency",
    ]
    plain = AttentionReport(clf, prefit=True, top_k=1).fit(["a"])
    assert list(plain.get_feature_names_out()) == [
        "label", "proba_neg", "proba_pos", "top1_word", "top1_weight", "entropy", "frequent_share",
    ]


def test_set_output_pandas_and_default_keep_the_table_and_the_input_index(clf, new_texts):
    X = pd.Series(new_texts, index=[f"r{i}" for i in range(len(new_texts))])
    expected = AttentionReport(clf, prefit=True).fit(X).transform(X)
    assert list(expected.index) == list(X.index)
    for output in ("pandas", "default"):
        report = AttentionReport(clf, prefit=True).set_output(transform=output)
        table = report.fit_transform(X)
        pd.testing.assert_frame_equal(table, expected)


def test_set_output_polars(clf, new_texts):
    pl = pytest.importorskip("polars")
    table = AttentionReport(clf, prefit=True).set_output(transform="polars").fit(new_texts).transform(new_texts)
    assert isinstance(table, pl.DataFrame) and table.columns[0] == "label"


@pytest.mark.parametrize(
    "check",
    [
        checks.check_estimator_cloneable,
        checks.check_estimator_repr,
        checks.check_no_attributes_set_in_init,
        checks.check_get_params_invariance,
        checks.check_set_params,
        checks.check_do_not_raise_errors_in_init_or_set_params,
        checks.check_mixin_order,
        checks.check_estimators_unfitted,
    ],
    ids=lambda c: c.__name__,
)
def test_sklearn_data_independent_check(check):
    check(AttentionReport.__name__, AttentionReport(AFASentimentClassifier()))


def test_grid_search_clones_the_report_step(params, toy_data):
    X, y = toy_data
    report = AttentionReport(AFASentimentClassifier(**params, afa_weight=0.7), top_k=1)
    deep = report.get_params(deep=True)
    assert deep["estimator__afa_weight"] == 0.7 and deep["top_k"] == 1
    cloned = clone(report)
    assert cloned is not report and cloned.estimator is not report.estimator
    assert cloned.get_params()["estimator__lr"] == params["lr"]
    pipe = Pipeline(
        [
            ("report", report),
            ("proba", ColumnTransformer([("p", "passthrough", ["proba_pos"])])),
            ("stack", LogisticRegression()),
        ]
    )
    grid = GridSearchCV(pipe, {"report__estimator__afa_weight": [0.5, 1.0]}, cv=2, refit=False, error_score="raise")
    grid.fit(X, y)
    assert [p["report__estimator__afa_weight"] for p in grid.cv_results_["params"]] == [0.5, 1.0]
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_prefit_uses_the_classifier_as_is(clf, toy_data):
    X, _ = toy_data
    report = AttentionReport(clf, prefit=True).fit(X[:3])
    assert report.estimator_ is clf
    np.testing.assert_array_equal(report.classes_, clf.classes_)


def test_prefit_with_an_unfitted_classifier_is_a_clear_error(params):
    with pytest.raises(NotFittedError, match=r"prefit=True\) needs a fitted classifier.*call its fit"):
        AttentionReport(AFASentimentClassifier(**params), prefit=True).fit(["a text"])


def test_fit_without_labels_is_a_clear_error(params):
    with pytest.raises(ValueError, match="needs labels y"):
        AttentionReport(AFASentimentClassifier(**params)).fit(["a text", "another"])


def test_a_classifier_without_attention_is_a_clear_error():
    with pytest.raises(TypeError, match="skafa classifier.*got LogisticRegression"):
        AttentionReport(LogisticRegression()).fit(["a", "b"], [0, 1])


@pytest.mark.parametrize(
    "param, value, error, match",
    [
        ("top_k", 0, ValueError, "top_k"),
        ("n_frequent", 1.5, TypeError, "n_frequent"),
        ("faithfulness", "yes", TypeError, "faithfulness"),
        ("lexicon", "good", ValueError, "not a packaged lexicon"),
        ("lexicon", [1, 2], TypeError, "strings"),
    ],
)
def test_bad_parameters_are_clear_errors(clf, param, value, error, match):
    with pytest.raises(error, match=match):
        AttentionReport(clf, prefit=True, **{param: value}).fit(["a text"])


@pytest.mark.parametrize(
    "X, error, match",
    [
        (["fine", 3], TypeError, r"only strings; row\(s\) 1 hold int"),
        (["fine", "  "], ValueError, r"empty or whitespace-only texts at row\(s\) 1"),
        ("one string", TypeError, "not a single string"),
    ],
)
def test_bad_input_is_a_clear_error_in_fit_and_transform(clf, X, error, match):
    report = AttentionReport(clf, prefit=True)
    with pytest.raises(error, match=match):
        report.fit(X)
    report.fit(["a text"])
    with pytest.raises(error, match=match):
        report.transform(X)


def test_transform_before_fit_raises_not_fitted(clf):
    with pytest.raises(NotFittedError):
        AttentionReport(clf).transform(["a text"])


def test_the_report_follows_the_classifiers_empty_text_policy(params, toy_data):
    X, y = toy_data
    strict = AFASentimentClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="on_empty_text='model'"):
        AttentionReport(strict, prefit=True).fit(X).transform(["", X[0]])
    lenient = clone(strict).set_params(on_empty_text="model").fit(X, y)
    table = AttentionReport(lenient, prefit=True).fit(X).transform(["", X[0]])
    assert len(table) == 2 and table["top1_word"].isna().tolist() == [True, False]
