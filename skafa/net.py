"""The skorch net that trains a :class:`~skafa.backbone.TextClassifier`, with AFA as its training step."""

import contextlib
from dataclasses import dataclass

import torch
from skorch import NeuralNet
from skorch.callbacks import PassthroughScoring
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, to_tensor
from torch.utils.data import DataLoader

from .afa import (
    Discriminator,
    advantages,
    apply_masks,
    explore,
    discriminator_features,
    discriminator_inputs,
    discriminator_loss,
    discriminator_reward,
    feature_size,
    kl_reward,
    mask_log_prob,
    masking_probabilities,
    policy_gradient_loss,
    sample_masks,
    standardize,
    uniform_probabilities,
)
from .backbone import ClassifierOutput
from .callbacks import EpochTable
from .text import LengthBucketBatchSampler, PadCollator

# Per-epoch columns of an AFA fit (the method page of the docs says how to read them).
AFA_METRICS = ("afa_reward", "pg_loss", "reward_std", "mask_flip", "mask_dp", "reward_dp_corr")


@dataclass
class AFAConfig:
    """The knobs of Adversarial Feedback for Attention (see the method page of the docs).

    The defaults are those of :class:`~skafa.params.AFAOptions` and the estimator.

    Attributes
    ----------
    mask_ratio : float
        Expected fraction of content tokens masked per sample (rho).
    weight : float
        lambda, the weight of the policy-gradient term next to the cross-entropy.
    temperature : float
        tau, the temperature of the masking policy.
    n_samples : int
        K, masks drawn per text and step.
    start_step : int
        Optimizer steps trained on cross-entropy only before the AFA term is switched on (the
        discriminator learns from step 0).
    mask_token_id : int or None
        Token that replaces masked tokens; None removes them from the attention mask instead.
    features : {"proba", "hidden", "both"}
        What the discriminator reads.
    policy : {"attention", "direct", "random"}
        "attention" masks in proportion to the complement of attention and rewards masks that go
        unnoticed; "direct" masks in proportion to attention and rewards masks that are noticed;
        "random" masks uniformly at the same rate (ablation: no gradient reaches attention).
    reward : {"discriminator", "kl", "handover"}
        "kl" uses the fixed reward -KL(p(x) || p(x~)) and no discriminator; "handover" mixes the
        standardised KL and discriminator rewards, the discriminator's share growing with its
        measured skill ``max(0, 2 * accuracy - 1)``.
    exploration : float
        Share of uniform masking mixed into the policy.
    skill_scaling : bool
        Scale lambda by the discriminator's measured skill ``max(0, 2 * accuracy - 1)``.
    lexicon_ids : tuple of int or None
        Token ids of sentiment-lexicon words, for the ``mask_lexicon`` diagnostic.
    paired_discriminator : bool
        The discriminator reads an original's response next to a masked copy's and says which of
        the two is masked (True), instead of judging one response alone (False).
    probe_dropout : bool
        Run the no-gradient probes (original and masked copies) with dropout, as in training.
        False runs them in eval mode in one extra-wide pass, so rewards are not dominated by the
        difference between two dropout draws.
    normalize_advantages : bool
        Scale advantages to unit variance over the batch (True) or only centre them.
    baseline_decay : float
        Decay of the running reward baseline used when ``n_samples == 1``.
    """

    mask_ratio: float = 0.15
    weight: float = 0.3
    temperature: float = 1.0
    n_samples: int = 1
    start_step: int = 0
    mask_token_id: int | None = None
    features: str = "proba"
    policy: str = "attention"
    reward: str = "kl"
    paired_discriminator: bool = False
    probe_dropout: bool = False
    normalize_advantages: bool = True
    exploration: float = 0.0
    skill_scaling: bool = False
    lexicon_ids: tuple | None = None
    baseline_decay: float = 0.9
    skill_decay: float = 0.9

    @property
    def uses_discriminator(self):
        return self.reward in ("discriminator", "handover")


class WeightedCrossEntropy(torch.nn.Module):
    """Cross-entropy with optional class weights and per-sample weights (weighted mean)."""

    def __init__(self, class_weight=None):
        super().__init__()
        weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weight)

    def forward(self, logits, target, sample_weight=None):
        losses = torch.nn.functional.cross_entropy(logits.float(), target, weight=self.class_weight, reduction="none")
        if sample_weight is None:
            sample_weight = torch.ones_like(losses)
        if self.class_weight is not None:
            # Normalise by the weights actually applied, as cross_entropy(reduction="mean") does.
            norm = (sample_weight * self.class_weight[target]).sum()
        else:
            norm = sample_weight.sum()
        return (sample_weight * losses).sum() / norm.clamp(min=1e-12)


class AFANet(NeuralNet):
    """skorch net for text classification whose training step adds the AFA objective.

    Besides the usual skorch parameters it takes ``afa_config`` (an :class:`AFAConfig`, or None
    for plain fine-tuning), ``pad_token_id``, ``max_batch_tokens`` (cap on padded tokens per
    batch), ``autocast_dtype`` (mixed precision on CUDA), ``token_dropout`` (probability of hiding
    each content token of a training batch, with ``mask_token_id`` or, when that is None, by
    removing it from the attention mask), and skorch-routed ``discriminator__*`` /
    ``discriminator_optimizer__*`` parameters for the discriminator and its optimizer, which
    are registered as skorch modules so they move devices and pickle with the net.
    """

    # Unpickling maps these attributes' tensors to the CPU when no GPU is visible; callbacks may
    # hold tensors (EarlyStopping's best weights, for one). The discriminator and its optimizer are
    # added by skorch itself when initialize_module/initialize_optimizer set them.
    cuda_dependent_attributes_ = NeuralNet.cuda_dependent_attributes_ + ["callbacks"]

    def __init__(
        self,
        module,
        *args,
        afa_config=None,
        pad_token_id=0,
        max_batch_tokens=None,
        autocast_dtype=None,
        token_dropout=0.0,
        mask_token_id=None,
        discriminator=Discriminator,
        discriminator_optimizer=torch.optim.Adam,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.afa_config = afa_config
        self.pad_token_id = pad_token_id
        self.max_batch_tokens = max_batch_tokens
        self.autocast_dtype = autocast_dtype
        self.token_dropout = token_dropout
        self.mask_token_id = mask_token_id
        self.discriminator = discriminator
        self.discriminator_optimizer = discriminator_optimizer

    # --- building -------------------------------------------------------------------------

    @property
    def _uses_discriminator(self):
        return self.afa_config is not None and self.afa_config.uses_discriminator

    def initialize_module(self):
        super().initialize_module()
        self.steps_ = 0
        self.reward_baseline_ = None
        # Running accuracy of the discriminator on batches before it learns from them (0.5: chance).
        self.disc_skill_ = 0.5
        if self._uses_discriminator:
            n_classes = self.module_.head.out_features
            in_features = feature_size(
                self.afa_config.features, n_classes, self.module_.hidden_size, self.afa_config.paired_discriminator
            )
            kwargs = {"in_features": in_features, **self.get_params_for("discriminator")}
            self.discriminator_ = self.initialized_instance(self.discriminator, kwargs)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # Each optimizer sees only its own module: the classifier's must not step the discriminator.
        # Frozen weights (a LoRA backbone's) are left out, so they get no optimizer state.
        trainable = [(name, p) for name, p in self.module_.named_parameters() if p.requires_grad]
        args, kwargs = self.get_params_for_optimizer("optimizer", trainable)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        if self._uses_discriminator:
            args, kwargs = self.get_params_for_optimizer(
                "discriminator_optimizer", self.discriminator_.named_parameters()
            )
            self.discriminator_optimizer_ = self.discriminator_optimizer(*args, **kwargs)
        return self

    def get_default_callbacks(self):
        callbacks = [(name, EpochTable() if name == "print_log" else cb) for name, cb in super().get_default_callbacks()]
        if self.afa_config is not None:
            cfg = self.afa_config
            metrics = list(AFA_METRICS)
            metrics += ["disc_acc"] if self._uses_discriminator else []
            metrics += ["mask_lexicon"] if cfg.lexicon_ids else []
            metrics += ["afa_lambda"] if cfg.skill_scaling else []
            callbacks += [
                (name, PassthroughScoring(name=name, on_train=True, lower_is_better=False)) for name in metrics
            ]
        if self.train_split is not None:
            callbacks.append(("valid_acc", PassthroughScoring(name="valid_acc", lower_is_better=False)))
        return callbacks

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # ResumableCheckpoint.on_train_begin may have put back epochs of this very fit.
        epochs = self.max_epochs if epochs is None else epochs
        return super().fit_loop(X, y, epochs=epochs - getattr(self, "resumed_epochs_", 0), **fit_params)

    def get_iterator(self, dataset, training=False):
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        batch_size = kwargs.pop("batch_size", self.batch_size)
        kwargs.pop("shuffle", None)
        sampler = LengthBucketBatchSampler(dataset.lengths, batch_size, self.max_batch_tokens, shuffle=training)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=PadCollator(self.pad_token_id), **kwargs)

    # --- steps ----------------------------------------------------------------------------

    def autocast(self):
        """bfloat16 autocast on CUDA when the net was built with ``autocast_dtype``; otherwise nothing."""
        # Mixed precision is for CUDA only; a net trained on a GPU may be unpickled on a CPU.
        if self.autocast_dtype is None or torch.device(self.device).type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.autocast_dtype)

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        with self.autocast():
            return self.module_(x["input_ids"], x["attention_mask"])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        sample_weight = None if X is None else to_tensor(X["sample_weight"], device=self.device)
        return self.criterion_(y_pred, y_true, sample_weight)

    def train_step(self, batch, **fit_params):
        # skorch's default steps every registered optimizer with the closure; the discriminator
        # has already been stepped inside train_step_single, so only the classifier steps here.
        self.optimizer_.zero_grad()
        step = self.train_step_single(self.drop_tokens(batch), **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.module_.named_parameters()),
            batch=batch,
            training=True,
        )
        self.optimizer_.step()
        self.steps_ += 1
        return step

    def drop_tokens(self, batch):
        """Token dropout: hide each content token independently with probability ``token_dropout``.

        Without AFA this is the cheap augmentation AFA is benchmarked against: the same kind of
        masks, drawn uniformly instead of from attention, with cross-entropy alone. With AFA, the
        AFA step sees the dropped-out batch. Special tokens and padding are never hidden; training
        batches only.
        """
        if not self.token_dropout:
            return batch
        Xi, yi = batch
        content = Xi["content_mask"]
        hidden = (torch.rand(content.shape, device=content.device) < self.token_dropout) & content
        ids, att = apply_masks(Xi["input_ids"], Xi["attention_mask"], hidden.unsqueeze(1), self.mask_token_id)
        return {**Xi, "input_ids": ids, "attention_mask": att}, yi

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        module = self.training_module()
        with self.autocast():
            if self.afa_config is None:
                logits = module(Xi["input_ids"], Xi["attention_mask"])
                loss = self.get_loss(logits, yi, X=Xi, training=True)
            else:
                out = module(Xi["input_ids"], Xi["attention_mask"], Xi["content_mask"], return_details=True)
                logits = out.logits
                loss_ce = self.get_loss(logits, yi, X=Xi, training=True)
                loss = loss_ce + self.afa_weight_now() * self.afa_loss(Xi, out)
        self.backward(loss)
        return {"loss": self.reported_loss(loss), "y_pred": logits}

    # Hooks for data-parallel training (skafa.accelerated): one process trains the module itself.

    def training_module(self):
        """The classifier module for the forward pass whose gradient trains it."""
        return self.module_

    def training_discriminator(self):
        """The discriminator for the forward pass whose gradient trains it."""
        return self.discriminator_

    def backward(self, loss):
        """Backpropagate ``loss``."""
        loss.backward()

    def reported_loss(self, loss):
        """The training loss the history records for this step."""
        return loss

    def afa_weight_now(self):
        """lambda for this step: 0 during the warm-up, scaled by the discriminator's skill if asked."""
        cfg = self.afa_config
        if self.steps_ < cfg.start_step:
            return 0.0
        if not cfg.skill_scaling:
            return cfg.weight
        weight = cfg.weight * max(0.0, 2 * self.disc_skill_ - 1)
        self.history.record_batch("afa_lambda", weight)
        return weight

    def afa_loss(self, X, out):
        """The policy-gradient term for one batch; also updates the discriminator.

        Each step is a method a variant can override: :meth:`draw_masks` (the policy),
        :meth:`probe` (the classifier's responses without gradient), :meth:`rewards` (with
        :meth:`discriminator_step`), :meth:`advantages`, then ``-mean(A * log pi)``.
        """
        masks, probs = self.draw_masks(X, out)
        original, masked = self.probe(X, masks, out)
        rewards = self.rewards(original, masked)
        self.record_diagnostics(X, masks, original, masked, rewards)
        loss_pg = policy_gradient_loss(self.advantages(rewards), mask_log_prob(masks, probs, X["content_mask"]))
        self.history.record_batch("afa_reward", float(rewards.mean()))
        self.history.record_batch("pg_loss", loss_pg.item())
        return loss_pg

    def draw_masks(self, X, out):
        """K masks per text from the policy, and the masking probabilities they were drawn from."""
        cfg, content = self.afa_config, X["content_mask"]
        if cfg.policy == "random":
            probs = uniform_probabilities(content, cfg.mask_ratio)
        else:
            direct = cfg.policy == "direct"
            probs = masking_probabilities(out.attention, content, cfg.mask_ratio, cfg.temperature, direct=direct)
            probs = explore(probs, content, cfg.mask_ratio, cfg.exploration)
        return sample_masks(probs, content, cfg.n_samples), probs

    def probe(self, X, masks, out):
        """The classifier's responses to the original and the masked texts, without gradient.

        With ``probe_dropout=False`` both run in eval mode in one pass, so the reward compares
        the texts and not two dropout draws; otherwise the training forward ``out`` stands for
        the original and only the masked copies run, with dropout. Masked copies pool at their
        original's position.
        """
        cfg = self.afa_config
        ids, att = apply_masks(X["input_ids"], X["attention_mask"], masks, cfg.mask_token_id)
        pool = self.module_.pool_index(X["attention_mask"])
        masked_pool = pool.repeat_interleave(cfg.n_samples)
        with torch.no_grad():
            if cfg.probe_dropout:
                return out, self.module_(ids, att, pool_index=masked_pool, return_details=True)
            self.module_.eval()
            try:
                both = self.module_(
                    torch.cat([X["input_ids"], ids]),
                    torch.cat([X["attention_mask"], att]),
                    pool_index=torch.cat([pool, masked_pool]),
                    return_details=True,
                )
            finally:
                self.module_.train()
        n = len(pool)
        return ClassifierOutput(both.logits[:n], both.pooled[:n]), ClassifierOutput(both.logits[n:], both.pooled[n:])

    def rewards(self, original, masked):
        """One reward per mask, shape (batch, K), high for the masks the policy should draw more.

        With the complement policy that is a mask that goes unnoticed (the discriminator is
        fooled, or the prediction barely moves); with ``policy="direct"`` the sign turns, and a
        mask that is noticed earns the reward.
        """
        cfg = self.afa_config
        proba = torch.softmax(original.logits.detach().float(), dim=-1)
        masked_proba = torch.softmax(masked.logits.float(), dim=-1)
        if cfg.reward != "discriminator":
            fixed = kl_reward(proba, masked_proba)
        if cfg.uses_discriminator:
            negatives, positives = discriminator_inputs(
                discriminator_features(proba, original.pooled, cfg.features),
                discriminator_features(masked_proba, masked.pooled, cfg.features),
                pair=cfg.paired_discriminator,
            )
            learned = self.discriminator_step(negatives, positives)
        if cfg.reward == "kl":
            rewards = fixed
        elif cfg.reward == "discriminator":
            rewards = learned
        else:
            share = max(0.0, 2 * self.disc_skill_ - 1)
            rewards = (1 - share) * standardize(fixed) + share * standardize(learned)
        if cfg.policy == "direct":
            rewards = -rewards
        return rewards.view(-1, cfg.n_samples)

    def record_diagnostics(self, X, masks, original, masked, rewards):
        """Per-batch signals of whether the adversary carries information (history columns).

        ``reward_std`` (spread of the rewards), ``mask_flip`` (share of masked copies whose
        predicted class differs from the original's), ``mask_dp`` (mean total-variation distance
        between the original's and the masked copy's probabilities: ``|p(x) - p(x~)|`` for two
        classes), ``reward_dp_corr`` (correlation between a mask's reward and that distance) and,
        with a lexicon, ``mask_lexicon`` (share of masks that hide at least one lexicon word).
        """
        k = self.afa_config.n_samples
        proba = torch.softmax(original.logits.detach().float(), dim=-1).repeat_interleave(k, dim=0)
        masked_proba = torch.softmax(masked.logits.detach().float(), dim=-1)
        distance = 0.5 * (masked_proba - proba).abs().sum(dim=-1)
        flat = rewards.detach().flatten().float()
        record = self.history.record_batch
        record("reward_std", float(flat.std()) if flat.numel() > 1 else 0.0)
        record("mask_flip", float((masked_proba.argmax(-1) != proba.argmax(-1)).float().mean()))
        record("mask_dp", float(distance.mean()))
        both = torch.stack([flat, distance])
        corr = torch.corrcoef(both)[0, 1] if flat.numel() > 1 else flat.new_tensor(float("nan"))
        record("reward_dp_corr", float(corr) if torch.isfinite(corr) else 0.0)
        if self.afa_config.lexicon_ids:
            lexicon = torch.isin(X["input_ids"], torch.as_tensor(self.afa_config.lexicon_ids, device=masks.device))
            record("mask_lexicon", float((masks & lexicon.unsqueeze(1)).any(dim=2).float().mean()))

    def discriminator_step(self, negatives, positives):
        """One update of the discriminator on detached features; rewards from the updated one.

        Records the discriminator's accuracy on this batch before its update (``disc_acc``).
        """
        self.discriminator_.train()
        self.discriminator_optimizer_.zero_grad()
        # One forward over both halves: a data-parallel wrapper allows one forward per backward.
        logits = self.training_discriminator()(torch.cat([negatives, positives]))
        loss_d, accuracy = discriminator_loss(logits[: len(negatives)], logits[len(negatives) :])
        self.backward(loss_d)
        self.discriminator_optimizer_.step()
        self.discriminator_optimizer_.zero_grad(set_to_none=True)
        self.discriminator_.eval()
        with torch.no_grad():
            rewards = discriminator_reward(self.discriminator_(positives))
        self.history.record_batch("disc_acc", accuracy)
        decay = self.afa_config.skill_decay
        self.disc_skill_ = decay * self.disc_skill_ + (1 - decay) * accuracy
        return rewards

    def advantages(self, rewards):
        """Advantages of the masks (leave-one-out baseline, or a running one for K = 1)."""
        cfg = self.afa_config
        adv = advantages(rewards, self.reward_baseline_, normalize=cfg.normalize_advantages)
        if cfg.n_samples == 1:
            mean = float(rewards.mean())
            prev = mean if self.reward_baseline_ is None else self.reward_baseline_
            self.reward_baseline_ = cfg.baseline_decay * prev + (1 - cfg.baseline_decay) * mean
        return adv

    def validation_step(self, batch, **fit_params):
        step = super().validation_step(batch, **fit_params)
        _, yi = unpack_data(batch)
        correct = step["y_pred"].argmax(dim=1).cpu() == torch.as_tensor(yi)
        self.history.record_batch("valid_acc", float(correct.float().mean()))
        return step
