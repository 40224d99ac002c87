"""The progress bar of a local job: on stderr, started at the runs a checkpoint already holds.

``cluster`` reports ``Progress`` (runs done in this call, total, failed, best so
far); the bar adds the runs a resumed job found in its checkpoint, so it starts
where the last run stopped and ends at the job's total.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any


class Bar:
    """A tqdm bar fed by ``cluster.Progress`` reports; made on the first report."""

    def __init__(self, desc: str, already: int = 0) -> None:
        self.desc = desc
        self.already = already
        self._bar: Any = None
        self._lock = threading.Lock()

    def __call__(self, p: Any) -> None:
        with self._lock:
            if self._bar is None:
                from tqdm.auto import tqdm

                self._bar = tqdm(
                    total=max(p.total, self.already),
                    initial=self.already,
                    desc=self.desc,
                    unit="run",
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
            self._bar.total = max(p.total, self.already + p.done)
            self._bar.update(self.already + p.done - self._bar.n)
            post: dict[str, Any] = {}
            if p.best:
                metric = next((k for k in p.best if k not in ("item_id", "item")), None)
                if metric is not None and isinstance(p.best.get(metric), (int, float)):
                    post[f"best {metric}"] = f"{p.best[metric]:.4g}"
            if p.failed:
                post["failed"] = p.failed
            if post:
                self._bar.set_postfix(post)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


def stored_runs(checkpoint: str | None) -> int:
    """Rows a checkpoint folder already holds (0 without one)."""
    if not checkpoint:
        return 0
    folder = Path(checkpoint).expanduser()
    if not folder.is_dir():
        return 0
    import pyarrow.parquet as pq

    try:
        return sum(pq.read_metadata(p).num_rows for p in folder.glob("chunk-*.parquet"))
    except OSError:
        return 0
