"""SHA-256 of files, read in blocks (model files are large)."""

import hashlib


def file_sha256(path):
    """Hex SHA-256 of the file at ``path``."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
