"""Saved models: trimmed pickles that load without a GPU, and the safe folder format."""

import copy
import json
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
import torch.serialization
from sklearn.exceptions import NotFittedError
from skorch.exceptions import DeviceWarning

import skafa
import skafa.pickling
from skafa import AFAOptions, AFASentimentClassifier, ModelFileError, VersionMismatchWarning
from skafa.persistence import load_any
from skafa.safe_format import CONFIG_FILE, WEIGHTS_FILE


@pytest.fixture(scope="module")
def fitted(tiny_bert, toy_data):
    X, y = toy_data
    # AFA with a discriminator: the net has two optimizers and a module that a scoring artifact leaves out.
    params = dict(backbone=tiny_bert, epochs=1, batch_size=16, lr=1e-3, device="cpu", random_state=0, verbose=0,
                  afa=AFAOptions(reward="discriminator"))
    return AFASentimentClassifier(**params).fit(X, y)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("model") / "clf")


def weights_bytes(clf):
    return sum(t.numel() * t.element_size() for t in clf.net_.module_.state_dict().values())


# --- pickle ---------------------------------------------------------------------------------


def test_default_pickle_holds_only_what_prediction_needs(fitted, toy_data):
    X, _ = toy_data
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(restored.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    net = restored.net_
    assert net.optimizer_ is None and net.discriminator_ is None and net.discriminator_optimizer_ is None
    assert len(net.history) == 0 and not hasattr(restored, "history_")
    # Pickling does not trim the live estimator.
    assert fitted.net_.optimizer_ is not None and fitted.net_.discriminator_ is not None
    assert len(fitted.history_) == 1


def test_keep_training_state_keeps_optimizers_discriminator_and_history(fitted, toy_data):
    X, _ = toy_data
    fitted.set_params(keep_training_state=True)
    try:
        full = pickle.dumps(fitted)
    finally:
        fitted.set_params(keep_training_state=False)
    restored = pickle.loads(full)
    assert restored.net_.optimizer_ is not None and restored.net_.discriminator_optimizer_ is not None
    assert len(restored.history_) == 1
    assert len(pickle.dumps(fitted)) < len(full) / 2


def test_copies_keep_the_training_state(fitted):
    # Only pickling trims; copy.deepcopy is a full, independent copy.
    copied = copy.deepcopy(fitted)
    assert copied.net_.optimizer_ is not None and len(copied.history_) == 1
    assert copied.net_.module_ is not fitted.net_.module_
    assert copy.copy(fitted).net_ is fitted.net_


def test_scoring_pickle_is_about_the_size_of_the_weights(fitted):
    # The rest is the tokenizer (about 0.7 MB for a WordPiece vocabulary) and a few parameters.
    size = len(pickle.dumps(fitted))
    assert weights_bytes(fitted) < size < weights_bytes(fitted) + 1.5e6


def _pickle_as_if_trained_on_cuda(obj, monkeypatch):
    """Pickle ``obj`` with its tensors tagged as CUDA tensors, as a GPU-trained model's are."""
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        if isinstance(obj, AFASentimentClassifier):
            patch.setattr(obj.net_, "device", "cuda")
            patch.setattr(obj, "device_", "cuda")
        return pickle.dumps(obj)


def test_cuda_simulation_is_faithful(monkeypatch):
    data = _pickle_as_if_trained_on_cuda(torch.ones(2), monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):
        pickle.loads(data)


@pytest.mark.parametrize("keep_training_state", [False, True])
def test_cuda_trained_pickle_loads_on_a_cpu_only_machine(fitted, toy_data, monkeypatch, keep_training_state):
    X, _ = toy_data
    fitted.set_params(keep_training_state=keep_training_state)
    try:
        data = _pickle_as_if_trained_on_cuda(fitted, monkeypatch)
    finally:
        fitted.set_params(keep_training_state=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        restored = pickle.loads(data)
    assert torch.device(restored.net_.device).type == "cpu"
    assert all(p.device.type == "cpu" for p in restored.net_.module_.parameters())
    np.testing.assert_allclose(restored.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    if keep_training_state:
        assert all(p.device.type == "cpu" for p in restored.net_.discriminator_.parameters())


def test_pickle_from_another_major_version_warns(fitted, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(
            skafa.pickling, "version_stamp", lambda: {"skafa": "0.1.0", "transformers": "4.46.0", "torch": "2.4.0"}
        )
        data = pickle.dumps(fitted)
    with pytest.warns(VersionMismatchWarning, match="transformers 4.46.0"):
        pickle.loads(data)


def test_same_versions_load_without_warning(fitted):
    data = pickle.dumps(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VersionMismatchWarning)
        pickle.loads(data)


def test_joblib_file_loads_and_truncated_file_is_a_clear_error(fitted, toy_data, tmp_path):
    X, _ = toy_data
    path = tmp_path / "clf.joblib"
    joblib.dump(fitted, path)
    np.testing.assert_allclose(load_any(path).predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="truncated, corrupted or not"):
        load_any(path)


# --- the safe folder format -----------------------------------------------------------------


def test_saved_folder_round_trip_predicts_identically(fitted, saved, toy_data):
    X, _ = toy_data
    files = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()}
    assert {CONFIG_FILE, WEIGHTS_FILE, "backbone/config.json"} <= files
    assert any(f.startswith("tokenizer/") for f in files)
    assert not [f for f in files if f.endswith((".pkl", ".bin", ".pt", ".joblib"))]
    loaded = skafa.load(saved)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    # deep=True: the AFA options compare field by field (afa__reward, ...), not as objects.
    expected = {k: v for k, v in fitted.get_params(deep=True).items() if k != "afa"}
    assert {k: v for k, v in loaded.get_params(deep=True).items() if k != "afa"} == {**expected, "callbacks": None}
    for got, expected in zip(loaded.token_attention(X[:2]), fitted.token_attention(X[:2])):
        assert [w for w, _ in got] == [w for w, _ in expected]
        np.testing.assert_allclose([a for _, a in got], [a for _, a in expected], atol=1e-6)
    assert (loaded.n_epochs_, loaded.best_epoch_) == (fitted.n_epochs_, fitted.best_epoch_)
    assert loaded.word_counts_ == fitted.word_counts_ and type(loaded.word_counts_) is type(fitted.word_counts_)
    assert loaded.attention_report(X[:3]).equals(fitted.attention_report(X[:3]))
    # The safe format, too, carries no training state.
    assert loaded.net_.optimizer_ is None and not hasattr(loaded, "history_")


def test_load_unpickles_nothing(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load() must not unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(joblib, "load", refuse)
    assert skafa.load(saved).classes_.tolist() == ["neg", "pos"]


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["neg", "pos"]),
        np.array([3, 7]),
        np.array([False, True]),
        np.array([0.5, 2.0]),
        np.array(["b", 1], dtype=object),
    ],
    ids=["str", "int", "bool", "float", "object-mixed"],
)
def test_labels_of_any_type_round_trip(fitted, toy_data, labels, tmp_path):
    X, _ = toy_data
    # classes_ only maps outputs to labels, so relabelling a copy tests the round trip of each type.
    clf = copy.copy(fitted)
    clf.classes_ = labels
    loaded = skafa.load(clf.save(tmp_path / "m"))
    assert loaded.classes_.dtype == labels.dtype
    assert [type(c) for c in loaded.classes_.tolist()] == [type(c) for c in labels.tolist()]
    np.testing.assert_array_equal(loaded.classes_, labels)
    pred = loaded.predict(X)
    assert pred.dtype == labels.dtype
    np.testing.assert_array_equal(pred, clf.predict(X))


def test_labels_json_cannot_hold_are_refused(fitted, tmp_path):
    clf = copy.copy(fitted)
    clf.classes_ = np.array([("a", 1), ("b", 2)], dtype=object)
    with pytest.raises(TypeError, match="pickle the classifier instead"):
        clf.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_fitted_attribute_json_cannot_hold_is_refused_not_dropped(fitted, tmp_path):
    clf = copy.copy(fitted)
    clf.calibration_ = object()
    with pytest.raises(TypeError, match="fitted attribute calibration_"):
        clf.save(tmp_path / "m")


def test_class_weight_dict_round_trips(fast_params, toy_data, tmp_path):
    X, y = toy_data
    clf = AFASentimentClassifier(**fast_params, afa=False, class_weight={"neg": 2.0, "pos": 1.0}).fit(X, y)
    assert skafa.load(clf.save(tmp_path / "m")).class_weight == {"neg": 2.0, "pos": 1.0}


def test_save_refuses_to_overwrite_unless_asked(fitted, tmp_path, toy_data):
    X, _ = toy_data
    path = fitted.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.save(path)
    fitted.save(path, overwrite=True)
    np.testing.assert_allclose(skafa.load(path).predict_proba(X[:3]), fitted.predict_proba(X[:3]), atol=1e-6)
    (tmp_path / "other").mkdir()
    with pytest.raises(FileExistsError, match="not a skafa model folder"):
        fitted.save(tmp_path / "other", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "other"]  # no staging folder left behind


def test_save_needs_a_fitted_classifier(tmp_path):
    with pytest.raises(NotFittedError):
        AFASentimentClassifier().save(tmp_path / "m")


def _copy(saved, tmp_path):
    import shutil

    return shutil.copytree(saved, tmp_path / "copy")


def _edit_config(folder, edit):
    path = folder / CONFIG_FILE
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("library, version", [("skafa", "1.0.0"), ("transformers", "4.46.0")])
def test_folder_from_another_major_version_warns(saved, tmp_path, library, version):
    folder = _copy(saved, tmp_path)
    _edit_config(folder, lambda c: c["versions"].update({library: version}))
    with pytest.warns(VersionMismatchWarning, match=f"{library} {version}"):
        skafa.load(folder)


def test_newer_format_version_is_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    _edit_config(folder, lambda c: c.update(format_version=99))
    with pytest.raises(ModelFileError, match="upgrade skafa"):
        skafa.load(folder)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / WEIGHTS_FILE).write_bytes((f / WEIGHTS_FILE).read_bytes()[:-100]), "truncated"),
        (lambda f: _flip_byte(f / WEIGHTS_FILE), "corrupted"),
        (lambda f: (f / CONFIG_FILE).write_text((f / CONFIG_FILE).read_text()[:200]), "corrupted or truncated"),
        (lambda f: (f / CONFIG_FILE).unlink(), "not a skafa model folder"),
        (lambda f: next((f / "tokenizer").iterdir()).unlink(), "missing"),
    ],
    ids=["truncated-weights", "flipped-byte", "truncated-config", "no-config", "missing-tokenizer-file"],
)
def test_damaged_folder_is_a_clear_error(saved, tmp_path, damage, message):
    folder = _copy(saved, tmp_path)
    damage(folder)
    with pytest.raises(ModelFileError, match=message):
        skafa.load(folder)


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damage_behind_matching_checksums_is_still_caught(saved, tmp_path):
    # Someone truncates the weights and rewrites the checksums: safetensors' own checks catch it.
    from skafa.safe_format import _file_table

    folder = _copy(saved, tmp_path)
    (folder / WEIGHTS_FILE).write_bytes((folder / WEIGHTS_FILE).read_bytes()[:1000])
    files = {k: v for k, v in _file_table(folder).items() if k != CONFIG_FILE}
    _edit_config(folder, lambda c: c.update(files=files))
    with pytest.raises(ModelFileError, match="could not be loaded"):
        skafa.load(folder)


def test_a_file_is_not_a_model_folder(tmp_path):
    path = tmp_path / "not_a_folder"
    path.write_text("x")
    with pytest.raises(ModelFileError, match="not a folder"):
        skafa.load(path)


def test_a_model_for_prediction_cannot_continue_training_but_a_full_pickle_can(fitted, saved, toy_data):
    X, y = toy_data
    for restored in (pickle.loads(pickle.dumps(fitted)), skafa.load(saved)):
        with pytest.raises(ValueError, match="keep_training_state=True"):
            restored.partial_fit(X, y)
    fitted.set_params(keep_training_state=True)
    try:
        restored = pickle.loads(pickle.dumps(fitted))
    finally:
        fitted.set_params(keep_training_state=False)
    restored.set_params(warm_start=True).fit(X, y)
    assert restored.n_epochs_ == 2 and len(restored.history_) == 2


def test_afa_options_survive_the_safe_format(fast_params, toy_data, tmp_path):
    from skafa import AFAOptions

    X, y = toy_data
    options = AFAOptions(reward="kl", temperature=2.0, exploration=0.1)
    clf = AFASentimentClassifier(**fast_params, afa=options).fit(X, y)
    loaded = skafa.load(clf.save(tmp_path / "clf"))
    assert isinstance(loaded.afa, AFAOptions) and loaded.afa.get_params() == options.get_params()


def test_a_folder_with_the_older_flat_option_names_loads_them_into_afa(saved, tmp_path):
    from skafa import AFAOptions

    folder = _copy(saved, tmp_path)

    def flat_names_of_0_1(config):
        config["params"].update(afa=True, mask_temperature=2.0, reward="kl")
        config["versions"]["skafa"] = "0.1.0"

    _edit_config(folder, flat_names_of_0_1)
    loaded = skafa.load(folder)
    assert isinstance(loaded.afa, AFAOptions)
    # Options it did not name take the defaults of 0.1 (two masks per text), not today's.
    assert (loaded.afa.temperature, loaded.afa.reward, loaded.afa.n_samples) == (2.0, "kl", 2)


@pytest.mark.parametrize("version, expected", [("0.1.0", ("discriminator", 2)), ("0.2.0", None)])
def test_afa_true_from_before_the_default_change_keeps_the_defaults_it_trained_with(
    saved, fitted, tmp_path, monkeypatch, version, expected
):
    folder = _copy(saved, tmp_path)

    def saved_by(config):
        config["params"]["afa"] = True
        config["versions"]["skafa"] = version

    _edit_config(folder, saved_by)
    stamp = {**skafa.pickling.version_stamp(), "skafa": version}
    with monkeypatch.context() as patch:
        patch.setattr(fitted, "afa", True)
        patch.setattr(skafa.pickling, "version_stamp", lambda: stamp)
        data = pickle.dumps(fitted)
    for loaded in (skafa.load(folder), pickle.loads(data)):
        if expected is None:
            assert loaded.afa is True
        else:
            assert (loaded.afa.reward, loaded.afa.n_samples) == expected


def test_a_pickle_written_before_a_parameter_existed_loads_with_its_default(plain_clf, toy_data):
    X, _ = toy_data
    state = plain_clf.__getstate__()
    del state["n_threads"]  # as a pickle of an older skafa would lack it
    old = object.__new__(type(plain_clf))
    old.__setstate__(state)
    assert old.get_params()["n_threads"] is None
    np.testing.assert_allclose(old.predict_proba(X[:4]), plain_clf.predict_proba(X[:4]))
