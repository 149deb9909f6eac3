"""Writing a file or folder so that readers see either the old one or the complete new one, never a part."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, *, folder=False):
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    The temporary file (or, with ``folder=True``, folder) lives in ``path``'s own folder, so the
    final rename stays on one file system and replaces ``path`` in one step (a folder being
    replaced is removed just before). If the block raises, or is interrupted, the temporary path
    is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        Where the result must end up; its parent folder is created if needed.
    folder : bool, default=False
        Stage a folder instead of a file.

    Yields
    ------
    pathlib.Path
        The temporary path to write. Its suffixes are ``path``'s, so writers that choose a
        format (or compression) from the extension see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    if folder:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".partial" + "".join(path.suffixes), dir=path.parent)
        os.close(fd)
        staging = Path(name)
    try:
        yield staging
        if folder and path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException:
        if folder:
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
        raise
