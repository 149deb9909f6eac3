"""How many CPU threads torch uses while a classifier trains or predicts.

torch's thread count is process-wide. By default skafa leaves it as the process has it: in a Dask
worker started by a nanny that is ``OMP_NUM_THREADS=1``, so each of a worker's task slots trains
with one thread and a worker never runs more threads than it was given. ``n_threads`` sets it for
the duration of one fit or prediction and restores it afterwards (see the scaling-out page).
"""

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with torch on ``n_threads`` CPU threads (None: unchanged), then restore the count."""
    if n_threads is None or n_threads == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
