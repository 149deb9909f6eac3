"""``skafa demo``: fit AFA on a small real sample offline and show accuracy and attention."""

import time
from importlib import resources

import pandas as pd

from .estimator import AFASentimentClassifier


def load_demo_data():
    """The packaged demo sample (UCI Sentiment Labelled Sentences, CC BY 4.0).

    Returns
    -------
    train, test : pandas.DataFrame
        Columns ``text``, ``label`` (0 negative, 1 positive), ``domain``.
    """
    path = resources.files("skafa") / "data" / "uci_sentences_sample.csv"
    with resources.as_file(path) as file:
        data = pd.read_csv(file, keep_default_na=False)
    return data[data.split == "train"].drop(columns="split"), data[data.split == "test"].drop(columns="split")


def run_demo(epochs=2, n_train=None, afa=True, seed=0, n_show=5, top_k=3, verbose=1, print_fn=print):
    """Train on the demo sample, print held-out accuracy and the most attended words.

    Returns
    -------
    clf : AFASentimentClassifier
    accuracy : float
    """
    train, test = load_demo_data()
    if n_train is not None:
        train = train.sample(min(n_train, len(train)), random_state=seed)
    print_fn(
        f"Training {'AFA' if afa else 'plain fine-tuning'} on {len(train)} review sentences "
        f"(UCI Sentiment Labelled Sentences), {epochs} epoch(s), default backbone ..."
    )
    clf = AFASentimentClassifier(epochs=epochs, afa=afa, random_state=seed, verbose=verbose)
    start = time.perf_counter()
    clf.fit(train.text, train.label)
    print_fn(f"Fitted in {time.perf_counter() - start:.0f} s on {clf.device_}.")
    accuracy = clf.score(test.text, test.label)
    print_fn(f"Held-out accuracy on {len(test)} sentences: {accuracy:.3f}")
    shown = test.head(n_show)
    names = {0: "negative", 1: "positive"}
    for text, pred, words in zip(shown.text, clf.predict(shown.text), clf.token_attention(shown.text)):
        top = sorted(words, key=lambda pair: -pair[1])[:top_k]
        focus = ", ".join(f"{word!r} {weight:.2f}" for word, weight in top)
        print_fn(f"\n  {text}\n    -> {names.get(pred, pred)}; attends to {focus}")
    return clf, accuracy
