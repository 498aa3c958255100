"""Evaluation and reference data: resolve the declared location, verify the pinned sha256, read CSV or Parquet.

Every problem is a DataProblem whose message names the file and what was expected; the engine turns it into
a failed gate, so a bad file is reported in the PR, never a traceback.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from bot.errors import RefusedError

if TYPE_CHECKING:
    import pandas as pd

_CHUNK = 1 << 20
_PARQUET_MAGIC = b"PAR1"


class DataProblem(RefusedError):
    """Evaluation data that cannot be used as declared."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def resolve(location: str, root: Path) -> Path:
    """A path relative to the repository root, an absolute path, or a file: URI; other schemes are refused."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise DataProblem(
            f"{location}: only repository paths and file: URIs can be read here; "
            f"copy the data next to models.yaml or mount it and use a file: URI"
        )
    path = Path(location)
    return path if path.is_absolute() else Path(root) / path


def verify(path: Path, expected: str, label: str) -> str:
    """The file's sha256, or DataProblem when it is missing or differs from the pinned one."""
    if not path.is_file():
        raise DataProblem(f"{label} {path}: no such file")
    actual = sha256_file(path)
    if actual != expected:
        raise DataProblem(
            f"{label} {path}: sha256 is {actual}, but models.yaml pins {expected}; "
            f"the data changed since it was pinned: re-pin it in models.yaml or restore the file"
        )
    return actual


def read(path: Path, label: str = "evaluation data") -> pd.DataFrame:
    """CSV or Parquet (by suffix, else by content) into a frame with at least one row and one column."""
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataProblem(f"{label} {path}: the file is empty; expected a CSV header and rows, or Parquet")
    try:
        frame = pd.read_parquet(path) if _is_parquet(path) else pd.read_csv(path, low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataProblem(f"{label} {path}: cannot be read as CSV or Parquet: {first[:300]}") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataProblem(f"{label} {path}: no rows; expected a header and at least one row")
    return frame


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    if path.suffix.lower() in (".csv", ".gz", ".txt"):
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == _PARQUET_MAGIC


def load(location: str, sha256: str, root: Path, label: str = "evaluation data") -> tuple[pd.DataFrame, str]:
    """Resolve, verify against the pinned hash, then read: (frame, sha256)."""
    path = resolve(location, root)
    digest = verify(path, sha256, label)
    return read(path, label), digest
