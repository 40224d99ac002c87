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
    """Stores chunk fragments; reads them back in chunk order.

    A sink also keeps the job's manifest (spec hash, seed, data hash, code
    version, chunk size), so a resumed job can check it is the same job and cut
    its items into the same chunks.
    """

    def load_manifest(self) -> dict[str, Any] | None:
        """The stored manifest, or None for a new job."""
        ...

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        """Store the manifest (replacing any)."""
        ...

    def done_chunks(self) -> set[int]:
        """Ids of chunks already stored."""
        ...

    def write(self, chunk_id: int, frame: pd.DataFrame, extra: Any = None) -> None:
        """Store one chunk's rows and optional payload (an array or a dict of arrays)."""
        ...

    def frames(self) -> list[pd.DataFrame]:
        """Every stored fragment, in chunk order."""
        ...

    def extras(self) -> list[Any]:
        """Every stored payload, in chunk order (None where a chunk had none)."""
        ...


# A sink may also have ``files() -> list[Path]``: its fragments as Parquet files, in
# chunk order. A sweep's result then queries them in DuckDB rather than building its
# table in pandas (``cluster.sweep_result.StoredSweepResult``).


class MemorySink:
    """Keeps fragments in memory."""

    def __init__(self) -> None:
        self._frames: dict[int, pd.DataFrame] = {}
        self._extras: dict[int, Any] = {}
        self._manifest: dict[str, Any] | None = None

    def load_manifest(self) -> dict[str, Any] | None:
        return self._manifest

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        self._manifest = dict(manifest)

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
    """Fragments as Parquet files in ``path``; resumable after the driver dies."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.path / "manifest.json"

    def load_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.exists():
            return None
        loaded: dict[str, Any] = json.loads(self.manifest_path.read_text())
        return loaded

    def save_manifest(self, manifest: dict[str, Any]) -> None:
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
        if isinstance(extra, dict):  # several arrays: one .npz
            np.savez(self.path / f"extra-{chunk_id:08d}.npz", **extra)
        elif extra is not None:
            np.save(self.path / f"extra-{chunk_id:08d}.npy", np.asarray(extra))
        os.replace(tmp, target)  # the fragment lands last: a chunk counts once complete

    def _ids(self) -> list[int]:
        return sorted(self.done_chunks())

    def files(self) -> list[Path]:
        """The stored fragments' files, in chunk order (what DuckDB reads as one table)."""
        return [self.path / f"chunk-{k:08d}.parquet" for k in self._ids()]

    def frames(self) -> list[pd.DataFrame]:
        return [pd.read_parquet(path) for path in self.files()]

    def extras(self) -> list[Any]:
        out = []
        for k in self._ids():
            npy, npz = self.path / f"extra-{k:08d}.npy", self.path / f"extra-{k:08d}.npz"
            if npz.exists():
                with np.load(npz) as z:
                    out.append({name: z[name] for name in z.files})
            else:
                out.append(np.load(npy) if npy.exists() else None)
        return out


def open_sink(out: Any) -> Sink:
    """``out`` as a sink: None (memory), a folder path, or a Sink object."""
    if out is None:
        return MemorySink()
    if isinstance(out, (str, os.PathLike)):
        return DirectorySink(out)
    for method in ("done_chunks", "write", "frames", "extras", "load_manifest", "save_manifest"):
        if not callable(getattr(out, method, None)):
            raise TypeError(f"out must be a folder path or a Sink (it lacks {method}())")
    return out  # type: ignore[no-any-return]


def claim(sink: Sink, manifest: dict[str, Any]) -> dict[str, Any]:
    """Bind ``sink`` to the job: a new sink takes the manifest; a used one must hold
    the same job, and its stored manifest (with its chunk size) is returned."""
    stored = sink.load_manifest()
    if stored is None:
        sink.save_manifest(manifest)
        return manifest
    if stored.get("job") != manifest.get("job"):
        where = getattr(sink, "path", "the output")
        raise JobMismatchError(
            f"{where} holds results of another job (spec {stored.get('job')}, this one is "
            f"{manifest.get('job')}); choose a new output or delete it"
        )
    return stored
