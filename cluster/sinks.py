"""Where a job's results go as chunks finish: memory, or a folder that survives the driver.

A result is stored per chunk as a table fragment (one row per item), so a job
interrupted at any point keeps every finished chunk, and a resumed job skips
them. ``DirectorySink`` writes ``chunk-<id>.parquet`` files atomically (write,
then rename) beside a ``manifest.json`` that says which job they belong to.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


class Sink(Protocol):
    """Stores chunk fragments; reads them back in chunk order."""

    def done_chunks(self) -> set[int]:
        """Ids of chunks already stored."""
        ...

    def write(self, chunk_id: int, frame: pd.DataFrame, extra: Any = None) -> None:
        """Store one chunk's rows (and optional per-item payload)."""
        ...

    def frames(self) -> list[pd.DataFrame]:
        """Every stored fragment, in chunk order."""
        ...

    def extras(self) -> list[Any]:
        """Every stored payload, in chunk order (None where a chunk had none)."""
        ...


class MemorySink:
    """Keeps fragments in memory."""

    def __init__(self) -> None:
        self._frames: dict[int, pd.DataFrame] = {}
        self._extras: dict[int, Any] = {}

    def done_chunks(self) -> set[int]:
        return set(self._frames)

    def write(self, chunk_id: int, frame: pd.DataFrame, extra: Any = None) -> None:
        self._frames[chunk_id] = frame
        self._extras[chunk_id] = extra

    def frames(self) -> list[pd.DataFrame]:
        return [self._frames[k] for k in sorted(self._frames)]

    def extras(self) -> list[Any]:
        return [self._extras[k] for k in sorted(self._extras)]


class JobMismatchError(ValueError):
    """The output folder holds the results of a different job."""


_CHUNK = re.compile(r"chunk-(\d+)\.parquet$")


class DirectorySink:
    """Fragments as Parquet files in ``path``; resumable.

    Args:
        path: the job's output folder (created if missing).
        manifest: the job's identity (spec hash, seed, data hash, code version,
            chunk size ...). An existing folder must hold the same ``job`` key.
    """

    def __init__(self, path: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.path / "manifest.json"
        if self.manifest_path.exists():
            stored = json.loads(self.manifest_path.read_text())
            if stored.get("job") != manifest.get("job"):
                raise JobMismatchError(
                    f"{self.path} holds results of another job (spec {stored.get('job')}, "
                    f"this one is {manifest.get('job')}); choose a new folder or delete it"
                )
            self.manifest = stored
        else:
            self.manifest = manifest
            self._atomic_write(self.manifest_path, json.dumps(manifest, indent=2, default=str).encode())

    @staticmethod
    def _atomic_write(path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def done_chunks(self) -> set[int]:
        return {int(m.group(1)) for p in self.path.iterdir() if (m := _CHUNK.match(p.name))}

    def write(self, chunk_id: int, frame: pd.DataFrame, extra: Any = None) -> None:
        target = self.path / f"chunk-{chunk_id:08d}.parquet"
        tmp = target.with_name(target.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        if extra is not None:
            np.save(self.path / f"extra-{chunk_id:08d}.npy", extra)
        os.replace(tmp, target)

    def _ids(self) -> list[int]:
        return sorted(self.done_chunks())

    def frames(self) -> list[pd.DataFrame]:
        return [pd.read_parquet(self.path / f"chunk-{k:08d}.parquet") for k in self._ids()]

    def extras(self) -> list[Any]:
        out = []
        for k in self._ids():
            p = self.path / f"extra-{k:08d}.npy"
            out.append(np.load(p) if p.exists() else None)
        return out
