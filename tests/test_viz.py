"""Pictures: the HTML page, the figures, and a screenshot of the page in a headless browser."""

import copy
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from skafa import AFASentimentClassifier, AttentionReport, viz
from skafa.frequency import attention_by_frequency

from .conftest import FILLER, fake_focus_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Cells(HTMLParser):
    """Collects, per ``div.text``, its text and the words of its highlighted spans."""

    def __init__(self):
        super().__init__()
        self.texts, self.words, self.tags, self.wrong = [], [], [], 0
        self._stack = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        classes = dict(attrs).get("class", "").split()
        if "wrong" in classes:
            self.wrong += 1
        self._stack.append(classes)
        if "text" in classes:
            self.texts.append("")
            self.words.append([])
        elif "w" in classes:
            self.words[-1].append("")

    def handle_endtag(self, tag):
        self._stack.pop()

    def handle_data(self, data):
        inside = [c for classes in self._stack for c in classes]
        if "text" in inside:
            self.texts[-1] += data
            if "w" in inside:
                self.words[-1][-1] += data


def parse(page):
    parser = Cells()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def models(tiny_bert, toy_data):
    params = dict(backbone=tiny_bert, epochs=1, batch_size=16, lr=1e-3, device="cpu", verbose=0)
    plain = AFASentimentClassifier(afa=False, random_state=0, **params).fit(*toy_data)
    afa = AFASentimentClassifier(random_state=1, **params).fit(*toy_data)
    return {"plain": plain, "AFA": afa}


TEXTS = [
    "the movie was riveting",
    "Lackluster,  and\nsomewhat unwatchableness-prone; <script>alert('x')</script> & co",
    "riveting",
]


def test_html_shows_every_word_once_and_the_exact_text_per_model(models):
    page = viz.to_html(models, TEXTS)
    cells = parse(page)
    assert len(cells.texts) == len(TEXTS) * len(models)
    for (i, text), name in [((i, t), n) for i, t in enumerate(TEXTS) for n in models]:
        position = i * len(models) + list(models).index(name)
        assert cells.texts[position] == text
        assert cells.words[position] == [word for word, _ in models[name].token_attention([text])[0]]
    for name in models:
        assert f"<th>{name}</th>" in page


def test_html_escapes_the_texts(models):
    cells = parse(viz.to_html(models["AFA"], TEXTS))
    assert "script" not in cells.tags
    assert "<script>alert('x')</script> & co" in cells.texts[1]


def test_html_marks_wrong_predictions_and_writes_the_file(models, tmp_path):
    clf = models["AFA"]
    predicted = clf.predict(TEXTS)
    opposite = np.where(predicted == "pos", "neg", "pos")
    assert parse(viz.to_html(clf, TEXTS, predicted)).wrong == 0
    path = tmp_path / "report.html"
    page = viz.to_html(clf, TEXTS, opposite, path=path, title="A <b> title")
    assert parse(page).wrong == len(TEXTS)
    assert path.read_text(encoding="utf-8") == page
    assert "<title>A &lt;b&gt; title</title>" in page


def test_text_beyond_max_length_is_shown_but_not_highlighted(models):
    short = copy.copy(models["AFA"])
    short.max_length = 5  # [CLS] + 3 words + [SEP]
    text = "the movie was riveting and the end"
    cells = parse(viz.to_html(short, [text]))
    assert cells.texts == [text]
    assert cells.words == [["the", "movie", "was"]]
    assert 'class="tail"' in viz.to_html(short, [text])


def test_report_to_html_delegates_to_viz(models):
    clf = models["AFA"]
    assert AttentionReport(clf, prefit=True).fit(TEXTS).to_html(TEXTS) == viz.to_html(clf, TEXTS)


def test_attention_figure_is_a_png_with_one_strip_per_text(models, tmp_path):
    path = tmp_path / "compare.png"
    figure = viz.attention_figure(models, TEXTS, ["pos", "neg", "pos"], path=path, max_words=5)
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000
    assert len(figure.axes) == len(TEXTS)
    first = figure.axes[0]
    assert [t.get_text() for t in first.get_xticklabels()] == TEXTS[0].split()
    assert [t.get_text().split(":")[0] for t in first.get_yticklabels()] == list(models)
    assert "first 5 of" in figure.axes[1].get_title(loc="left")


def test_attention_figure_refuses_classifiers_that_split_words_differently(models):
    short = copy.copy(models["AFA"])
    short.max_length = 4
    with pytest.raises(ValueError, match="same words"):
        viz.attention_figure({"a": models["plain"], "b": short}, TEXTS[:1])


def test_attention_by_frequency_buckets_words_by_training_rank(models):
    clf = models["AFA"]
    texts = fake_focus_data(10, seed=2)[0] + ["the zzzz"]
    table = attention_by_frequency(clf, texts, edges=(len(FILLER),))
    assert list(table.index) == [f"top {len(FILLER)}", f"{len(FILLER) + 1}+", "unseen"]
    np.testing.assert_allclose(table.sum(), 1, rtol=1e-5)
    # Toy texts: 8 filler words (the 10 most frequent) and one decisive word (ranks 11 and 12).
    n = len(texts)
    assert table.word_share.iloc[1] == pytest.approx(10 * (1 / 9) / n)
    assert table.word_share.iloc[2] == pytest.approx(0.5 / n)
    decisive = sum(w for words in clf.token_attention(texts) for word, w in words if word in ("riveting", "lackluster"))
    assert table.attention_share.iloc[1] == pytest.approx(decisive / n, rel=1e-5)
    with pytest.raises(ValueError, match="strictly increasing"):
        attention_by_frequency(clf, texts, edges=(100, 10))


def test_frequency_figure_is_a_png_with_bars_per_model(models, tmp_path):
    path = tmp_path / "frequency.png"
    figure = viz.frequency_figure(models, fake_focus_data(20, seed=3)[0], path=path)
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["share of words", *models]
    for container in ax.containers:
        assert sum(bar.get_height() for bar in container) == pytest.approx(1, rel=1e-5)


def test_figures_without_matplotlib_are_a_clear_error(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"skafa\[viz\]"):
        viz.attention_figure(models["AFA"], TEXTS[:1])


def test_unfitted_or_foreign_models_are_clear_errors(models):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(NotFittedError):
        viz.to_html(AFASentimentClassifier(), TEXTS)
    with pytest.raises(TypeError, match="not a skafa classifier"):
        viz.to_html({"lr": LogisticRegression()}, TEXTS)


CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (chromium, chromium-browser or google-chrome) on PATH")
def test_headless_browser_renders_the_highlighted_page(models, tmp_path):
    page = tmp_path / "report.html"
    shot = tmp_path / "shot.png"
    viz.to_html(models, TEXTS, path=page)
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1000,700", f"--screenshot={shot}", page.as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.read_bytes()[:8] == PNG_MAGIC
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    reddish = (pixels[..., 0] - pixels[..., 1] > 0.1) & (pixels[..., 0] - pixels[..., 2] > 0.1)
    assert reddish.sum() > 100, "the attention highlighting did not render"
