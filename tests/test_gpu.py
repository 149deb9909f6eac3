"""CUDA paths: training on a GPU, mixed precision, and loading a GPU-trained pickle on a CPU."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from skafa import AFASentimentClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("mixed_precision", [False, True])
def test_fits_and_predicts_on_cuda(tiny_bert, toy_data, mixed_precision):
    X, y = toy_data
    clf = AFASentimentClassifier(
        tiny_bert, epochs=2, lr=1e-3, random_state=0, verbose=0, mixed_precision=mixed_precision,
        afa__reward="discriminator",
    ).fit(X, y)
    assert clf.device_ == "cuda"
    assert next(clf.net_.module_.parameters()).is_cuda
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba)) and proba.shape == (len(X), 2)
    assert np.isfinite(clf.history_[-1, "disc_acc"])


def test_gpu_trained_pickle_loads_and_predicts_on_a_cpu_only_process(tiny_bert, toy_data, tmp_path):
    X, y = toy_data
    clf = AFASentimentClassifier(tiny_bert, epochs=1, lr=1e-3, random_state=0, verbose=0).fit(X, y)
    expected = clf.predict_proba(X)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", np.array(X, dtype=object), allow_pickle=True)
    script = textwrap.dedent(
        f"""
        import pickle, numpy as np, torch
        assert not torch.cuda.is_available()
        clf = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        X = np.load({str(tmp_path / "X.npy")!r}, allow_pickle=True).tolist()
        np.save({str(tmp_path / "cpu.npy")!r}, clf.predict_proba(X))
        """
    )
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "cpu.npy"), expected, atol=1e-4)
