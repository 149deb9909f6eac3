"""Data-parallel training with Hugging Face Accelerate: :class:`AcceleratedAFANet`.

Under ``accelerate launch`` or ``torchrun`` every process runs the same fit: the same seed gives
every process the same initial weights and the same batch order, Accelerate cuts each batch
across the processes (``split_batches``: ``batch_size`` is the global batch, so N processes take
the steps one process would), and the classifier and the discriminator are wrapped so that their
gradients are averaged over the processes before each optimizer step. Each process draws its own
AFA masks and computes its own rewards and advantages for its share of the batch. Validation is
not split: every process scores the whole validation set with the same weights, so the history
and early stopping decide the same everywhere. After training the wrappers are dropped and the
net is an ordinary single-process net that pickles, saves and predicts. See the scaling-out page
of the documentation.
"""

import os

import torch

from .net import AFANet


def make_accelerator():
    """An ``accelerate.Accelerator`` for the processes this program was launched with."""
    try:
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration
    except ImportError:
        raise ImportError("accelerate=True needs Hugging Face Accelerate: pip install 'skafa[accelerate]'.") from None
    # Accelerate treats processes on CPUs as a distributed run only when told to use the CPU
    # (``accelerate launch --cpu`` says so; ``torchrun`` on a machine without a GPU does not).
    cpu = not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")
    return Accelerator(cpu=cpu, dataloader_config=DataLoaderConfiguration(split_batches=True))


class AcceleratedAFANet(AFANet):
    """:class:`~skafa.net.AFANet` trained data-parallel by an ``accelerate.Accelerator``.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        Made with ``split_batches=True`` (see :func:`make_accelerator`); dropped after training.
    """

    def __init__(self, *args, accelerator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.accelerator = accelerator

    def initialize(self):
        super().initialize()
        # Kept apart from module_/discriminator_, which stay the plain modules that are saved,
        # probed and inspected; the wrappers only carry the training forward passes.
        self._wrapped = {"module": self.accelerator.prepare_model(self.module_)}
        if self._uses_discriminator:
            self._wrapped["discriminator"] = self.accelerator.prepare_model(self.discriminator_)
        return self

    def training_module(self):
        return self._wrapped["module"]

    def training_discriminator(self):
        return self._wrapped["discriminator"]

    def backward(self, loss):
        self.accelerator.backward(loss)

    def reported_loss(self, loss):
        # The mean over the processes: every process records the same history.
        return self.accelerator.reduce(loss.detach(), reduction="mean")

    def get_iterator(self, dataset, training=False):
        loader = super().get_iterator(dataset, training=training)
        return self.accelerator.prepare_data_loader(loader) if training else loader

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self.accelerator.wait_for_everyone()
        # An unwrapped net with no accelerator: it pickles and predicts in a single-process job.
        self._wrapped, self.accelerator = {}, None
