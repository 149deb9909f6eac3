"""Hyper-parameter search on a real two-process Dask LocalCluster, and the thread policy of its workers."""

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.model_selection import GridSearchCV

distributed = pytest.importorskip("distributed")

from skafa import AFASentimentClassifier  # noqa: E402


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


def test_grid_search_runs_each_candidate_and_fold_as_a_task_on_the_workers(client, fast_params, toy_data):
    X, y = toy_data
    grid = {"afa_weight": [0.0, 1.0], "afa__reward": ["discriminator", "kl"]}
    local = GridSearchCV(AFASentimentClassifier(**fast_params), grid, cv=2, n_jobs=1).fit(X, y)
    search = GridSearchCV(AFASentimentClassifier(**fast_params), grid, cv=2, n_jobs=-1)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask", scatter=[X, y]):
        search.fit(X, y)
    # Same seeds, same CPU arithmetic: the cluster finds what the local search finds.
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert search.best_params_ == local.best_params_
    workers = {task["worker"] for task in tasks.data if task["key"].startswith("batch_of_")}
    assert len(workers) == 2  # both worker processes trained candidates
    # The refit model is local and pickles small: prediction state only.
    np.testing.assert_allclose(search.predict_proba(X[:5]), local.predict_proba(X[:5]), atol=1e-6)


class ThreadsSeen(Callback):
    """Records torch's thread count when training starts (on the worker that trains)."""

    def on_train_begin(self, net, **kwargs):
        net.threads_seen_ = torch.get_num_threads()


def _threads_during_and_after_fit(params, X, y):
    clf = AFASentimentClassifier(callbacks=[ThreadsSeen()], **params).fit(X, y)
    return clf.net_.threads_seen_, torch.get_num_threads()


def test_workers_train_with_the_threads_they_are_given(client, fast_params, toy_data):
    X, y = toy_data
    # A nanny starts workers with OMP_NUM_THREADS=1: one thread per task slot, never more.
    during, after = client.submit(_threads_during_and_after_fit, fast_params, X, y, pure=False).result()
    assert (during, after) == (1, 1)
    # n_threads gives a task more threads for its fit, and the worker gets its setting back.
    during, after = client.submit(_threads_during_and_after_fit, {**fast_params, "n_threads": 2}, X, y, pure=False).result()
    assert (during, after) == (2, 1)
