"""Scoring a Dask DataFrame on a real two-process LocalCluster."""

import cloudpickle
import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from skafa import AFASentimentClassifier  # noqa: E402
from skafa.dask import predict_dataframe  # noqa: E402
from skafa.scoring import EmptyTextError  # noqa: E402


@pytest.fixture(scope="module")
def clf(plain_clf):
    return plain_clf


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def frame(toy_data):
    X, _ = toy_data
    return pd.DataFrame({"key": np.arange(len(X)), "text": X})


def test_partitions_are_scored_on_the_workers_with_one_shipped_model(clf, client, frame):
    ddf = dd.from_pandas(frame, npartitions=4)
    result = predict_dataframe(ddf, clf, text_column="text")
    # The task graph refers to the scattered model instead of carrying a copy per partition.
    model_bytes = len(cloudpickle.dumps(clf))
    assert len(cloudpickle.dumps(dict(result.__dask_graph__()))) < model_bytes / 10
    held = client.run(
        lambda dask_worker: sum(isinstance(v, AFASentimentClassifier) for v in dask_worker.data.values())
    )
    assert sorted(held.values()) == [1, 1]
    out = result.compute()
    assert out["key"].tolist() == frame["key"].tolist()
    np.testing.assert_allclose(out[["proba_neg", "proba_pos"]].to_numpy(float), clf.predict_proba(frame["text"]), atol=1e-6)
    assert out["predicted_label"].tolist() == clf.predict(frame["text"]).tolist()


def test_empty_texts_follow_the_policy(clf, client, frame):
    holey = frame.copy()
    holey.loc[[3, 50], "text"] = ["", None]
    ddf = dd.from_pandas(holey, npartitions=3)
    with pytest.raises(EmptyTextError, match=r"row\(s\) (3|50)"):
        predict_dataframe(ddf, clf).compute()
    out = predict_dataframe(ddf, clf, on_empty="empty").compute()
    assert len(out) == len(frame)
    assert out["predicted_label"].isna().to_numpy().nonzero()[0].tolist() == [3, 50]
    with pytest.raises(ValueError, match="on_empty must be one of 'error', 'empty'"):
        predict_dataframe(ddf, clf, on_empty="skip")


def test_model_path_and_missing_column(clf, client, frame, tmp_path):
    ddf = dd.from_pandas(frame, npartitions=2)
    out = predict_dataframe(ddf, clf.save(tmp_path / "m"), quantize=True).compute()
    np.testing.assert_allclose(out[["proba_neg", "proba_pos"]].to_numpy(float), clf.predict_proba(frame["text"]), atol=0.02)
    with pytest.raises(KeyError, match="text_column='review'"):
        predict_dataframe(ddf, clf, text_column="review")
