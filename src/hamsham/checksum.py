"""The sha256 of a file, read in 1 MiB chunks (archives are gigabytes)."""
import hashlib


def sha256_file(path) -> str:
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
