"""The journal of new job records: durable before ``create`` returns, stored later, replayed after a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from api.journal import Journal, journal_path
from api.jobstore import JobStore
from engine.store import open_database, release

REPO = Path(__file__).resolve().parents[2]
SPEC = {"kind": "sweep", "strategy": "sma_cross", "space": {"fast": [5, 10]}, "note": 'ünïcode "quoted"\nline'}

# Creates jobs in a store whose flusher never runs, prints their ids, and dies without
# storing or closing anything: what a SIGKILL right after the 202s leaves behind.
CRASH = """
import json, os, sys
from api.jobstore import JobStore
from engine.store import open_database
store = JobStore(open_database(sys.argv[1]), flush_every=3600)
ids = [store.create("sweep", "sma_cross", {**json.loads(sys.argv[3]), "n": k}, 10 + k).id
       for k in range(int(sys.argv[2]))]
print(json.dumps(ids), flush=True)
os._exit(0)
"""


def crash_after_creating(db: Path, n: int) -> list[str]:
    """Create ``n`` jobs in another process that then dies at once; their ids."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(db), str(n), json.dumps(SPEC)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def segments(db: Path) -> list[Path]:
    base = journal_path(db)
    return sorted(db.parent.glob(base.name + ".*"))


def journaled_ids(db: Path) -> list[str]:
    return [json.loads(line)["id"] for p in segments(db) for line in p.read_text().splitlines() if line]


@pytest.fixture
def open_store(tmp_path):
    """Open JobStores on one file (``flush_every`` of the caller's choosing); any left open are closed."""
    opened: list[JobStore] = []

    def open_(flush_every: float = 3600) -> JobStore:
        store = JobStore(open_database(tmp_path / "jobs.duckdb"), flush_every=flush_every)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        close(store)


def close(store: JobStore) -> None:
    """Close the store and give its database back (once)."""
    if not store.journal.closed:
        store.close()
        release(store.db)


def test_records_created_and_never_stored_survive_the_process_dying(tmp_path, open_store):
    db = tmp_path / "jobs.duckdb"
    ids = crash_after_creating(db, 5)
    assert sorted(journaled_ids(db)) == sorted(ids)  # on disk, though the process never stored them

    store = open_store()
    records, count = store.list()
    assert count == 5 and {r.id for r in records} == set(ids)
    first = store.get(ids[0])
    assert (first.status, first.kind, first.strategy, first.items) == ("queued", "sweep", "sma_cross", 10)
    assert first.spec == {**SPEC, "n": 0}
    assert store.get(ids[4]).items == 14
    assert journaled_ids(db) == []  # the leftovers were stored, then dropped
    assert sorted(store.recover()) == sorted(ids)
    assert {store.get(i).status for i in ids} == {"interrupted"}


def test_replaying_a_journal_twice_changes_nothing(tmp_path, open_store):
    db = tmp_path / "jobs.duckdb"
    ids = crash_after_creating(db, 3)
    kept = tmp_path / "kept"
    kept.mkdir()
    for p in segments(db):
        shutil.copy(p, kept / p.name)

    store = open_store()
    store.set_status(ids[1], "done")
    close(store)
    for p in kept.iterdir():  # as if the process died after storing them, before deleting the journal
        shutil.copy(p, db.parent / p.name)

    again = open_store()
    records, count = again.list()
    assert count == 3 and sorted(r.id for r in records) == sorted(ids)
    assert again.get(ids[1]).status == "done"  # not reset to queued by the second replay
    assert again.get(ids[0]).status == "queued"
    assert journaled_ids(db) == []


def test_a_torn_last_line_is_ignored(tmp_path, open_store):
    db = tmp_path / "jobs.duckdb"
    ids = crash_after_creating(db, 2)
    [segment] = segments(db)
    text = segment.read_bytes()
    segment.write_bytes(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])  # the second line, cut mid-write

    store = open_store()
    assert store.list()[1] == 1
    assert store.get(ids[0]) is not None and store.get(ids[1]) is None
    assert journaled_ids(db) == []


def test_lines_that_are_not_job_records_are_skipped(tmp_path, open_store):
    db = tmp_path / "jobs.duckdb"
    [good] = crash_after_creating(db, 1)
    [segment] = segments(db)
    with segment.open("a") as f:
        f.write('{"id": "not-an-id", "kind": "sweep"}\n[1, 2]\n{"half": \n')
    store = open_store()
    records, count = store.list()
    assert count == 1 and records[0].id == good


def test_a_flushed_journal_is_removed(tmp_path, open_store):
    db = tmp_path / "jobs.duckdb"
    store = open_store(flush_every=3600)
    ids = [store.create("backtest", "sma_cross", SPEC, 1).id for _ in range(4)]
    assert sorted(journaled_ids(db)) == sorted(ids) and store.unstored() == 4
    store.flush()
    assert store.unstored() == 0 and store.journal.holds() == 0
    store.journal.rotate()  # the flusher's step: retire the segment, deleted as all it holds is stored
    assert journaled_ids(db) == [] and [p.stat().st_size for p in segments(db)] == [0]
    later = store.create("backtest", "sma_cross", SPEC, 1).id
    assert journaled_ids(db) == [later]
    close(store)
    assert segments(db) == []  # close stored the last one and removed the journal


def test_the_background_flusher_stores_records_and_removes_their_lines(tmp_path, open_store):
    db = tmp_path / "jobs.duckdb"
    store = open_store(flush_every=0.01)
    ids = [store.create("backtest", "sma_cross", SPEC, 1).id for _ in range(3)]
    deadline = 100
    while (store.unstored() or journaled_ids(db)) and deadline:
        time.sleep(0.05)
        deadline -= 1
    assert store.unstored() == 0 and journaled_ids(db) == []
    rows = store.db.cursor().execute(f"SELECT id FROM {store.S}.job").fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)


def test_a_journaled_record_is_served_and_every_later_write_finds_its_row(tmp_path, open_store):
    store = open_store(flush_every=3600)  # nothing stored in the background
    job_id = store.create("sweep", "sma_cross", SPEC, 2).id
    assert store.get(job_id).status == "queued" and store.unstored() == 1
    store.set_status(job_id, "running")  # the write stores the record first, in its transaction
    assert store.unstored() == 0
    other = store.create("sweep", "sma_cross", SPEC, 2).id
    store.sink(job_id).write(0, pd.DataFrame({"item_id": [0, 1], "sharpe": [1.0, 2.0], "error": [None, None]}))
    store.set_progress(other, 5, {"sharpe": 1.0})
    assert store.list(status="queued")[0][0].total == 5
    store.complete(job_id, pd.DataFrame({"sharpe": [1.0, 2.0]}), {"runs": 2}, done=2, failed=0)
    db_row = store.db.cursor().execute(f"SELECT status, done, rows FROM {store.S}.job WHERE id = ?", [job_id])
    assert db_row.fetchone() == ("done", 2, 2)
    assert store.get(job_id).status == "done" and store.get(other).total == 5


def test_a_failed_transaction_leaves_its_journaled_records_for_the_next(tmp_path, open_store):
    store = open_store(flush_every=3600)
    store.create("sweep", "sma_cross", SPEC, 2)
    with pytest.raises(ZeroDivisionError):
        with store._write():
            1 / 0  # noqa: B018 - the transaction fails after it stored the record: rolled back
    assert store.unstored() == 1 and store.journal.holds() == 1
    assert store.list()[1] == 1  # listing stores it for good
    assert store.unstored() == 0 and store.journal.holds() == 0


def test_concurrent_appends_share_syncs_and_every_line_lands_whole(tmp_path):
    journal = Journal(tmp_path / "j")
    threads, each = 20, 25
    start = threading.Barrier(threads)

    def append(n: int) -> None:
        start.wait()
        for k in range(each):
            journal.append(json.dumps({"thread": n, "k": k, "pad": "x" * (n * 37 % 500)}))

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert 0 < journal.syncs < threads * each  # a sync covers every line written before it
    journal.close()  # nothing was marked stored: the lines stay for the next process
    lines = Journal(tmp_path / "j").leftovers()
    assert sorted((r["thread"], r["k"]) for r in lines) == [(n, k) for n in range(threads) for k in range(each)]


def test_a_journal_reads_back_the_lines_an_earlier_one_left(tmp_path):
    first = Journal(tmp_path / "j")
    segment = first.append('{"a": 1}')
    first.append('{"a": 2}')
    first.rotate()
    first.append('{"a": 3}')
    first.stored([segment])  # one of the two in the retired segment: it stays
    first.close()
    with (tmp_path / "j.2").open("a") as f:
        f.write('{"a": 4')  # torn: a crash mid-write
    second = Journal(tmp_path / "j")
    assert second.leftovers() == [{"a": 1}, {"a": 2}, {"a": 3}]
    second.drop_leftovers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.3"]
    second.close()
    assert list(tmp_path.iterdir()) == []
