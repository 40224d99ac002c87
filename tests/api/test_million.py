"""A million runs, scaled down: a 20,000-run sweep through a real service, its rows
stored once (the chunks are the result), ranked by DuckDB as pandas ranks them, and
streamed as Parquet a stored file at a time.

The service runs the sweep on its own threads (``local-threads``); the bench
(``python -m bench million``) runs the full size on a local Ray.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from api.jobstore import COMPACT_ROWS, ROW_GROUP_ROWS, JobStore
from engine.store import open_database, release
from tests.api.conftest import all_rows, submit, wait_for

RUNS = 20_000
# 50 fast x 200 slow x 2: every pair has fast < slow, so the grid holds exactly RUNS sets.
SPEC = {
    "kind": "sweep",
    "strategy": "sma_cross",
    "data": {"symbol": "SPX"},
    "space": {
        "fast": {"low": 2, "high": 51, "step": 1},
        "slow": {"low": 60, "high": 259, "step": 1},
        "short": [False, True],
    },
    "config": {"allow_short": True},
}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The service, and its finished 20,000-run sweep: (server, job record, streamed Parquet table)."""
    from tests.api.conftest import Server, server_env

    folder = tmp_path_factory.mktemp("million")
    server = Server(folder, server_env(folder, ANVIL_MAX_ITEMS_PER_JOB=str(RUNS))).start()
    try:
        with server.client(timeout=120) as client:
            job = wait_for(client, submit(client, SPEC)["id"], timeout=600)
            assert job["status"] == "done", job
            r = client.get(f"/jobs/{job['id']}/results", params={"format": "parquet"})
            assert r.status_code == 200, r.text
            streamed = pq.ParquetFile(io.BytesIO(r.content))
        yield server, job, streamed
    finally:
        server.kill()


def _files(server, job_id: str) -> list[Path]:
    return sorted((server.folder / "anvil.duckdb.results" / job_id).iterdir())


def test_every_row_is_stored_exactly_once(big):
    server, job, streamed = big
    assert job["rows"] == RUNS and job["progress"]["done"] == RUNS
    files = _files(server, job["id"])
    # The chunk files themselves, or (more than MAX_CHUNK_FILES of them) the parts they were joined into.
    kinds = {f.name.split("-")[0] for f in files}
    assert kinds in ({"chunk"}, {"part"}) and all(f.suffix == ".parquet" for f in files)
    if kinds == {"part"}:
        assert len(files) == -(-RUNS // COMPACT_ROWS)
    ids = np.concatenate([pq.read_table(f, columns=["item_id"]).column("item_id").to_numpy() for f in files])
    np.testing.assert_array_equal(ids, np.arange(RUNS))  # in order, each once
    table = streamed.read()
    assert table.num_rows == RUNS
    np.testing.assert_array_equal(table.column("item_id").to_numpy(), np.arange(RUNS))


def test_the_parquet_stream_equals_the_table_a_stored_file_at_a_time(big):
    server, job, streamed = big
    files = _files(server, job["id"])
    stored = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    got = streamed.read().to_pandas()
    pd.testing.assert_frame_equal(got.drop(columns="error"), stored.drop(columns="error"), check_dtype=False)
    # The stream is written a piece of one stored file at a time: no row group is bigger.
    largest = max(pq.ParquetFile(f).metadata.num_rows for f in files)
    groups = [streamed.metadata.row_group(i).num_rows for i in range(streamed.num_row_groups)]
    assert sum(groups) == RUNS and max(groups) <= min(largest, ROW_GROUP_ROWS)


def test_the_json_pages_equal_the_stream(big):
    server, job, streamed = big
    with server.client(timeout=120) as client:
        rows = pd.DataFrame(all_rows(client, job["id"]))
    table = streamed.read().to_pandas()
    assert list(rows["item_id"]) == list(table["item_id"])
    np.testing.assert_allclose(rows["total_return"].astype(float), table["total_return"], rtol=1e-12)


@pytest.mark.parametrize(("metric", "order"), [("sharpe", "desc"), ("max_drawdown", "asc"), ("total_trades", "desc")])
def test_the_top_100_by_a_metric_is_what_pandas_ranks_first(big, metric, order):
    server, job, streamed = big
    table = streamed.read().to_pandas()
    want = table.sort_values(metric, ascending=order == "asc", kind="stable", na_position="last").head(100)
    with server.client(timeout=120) as client:
        r = client.get(f"/jobs/{job['id']}/results", params={"sort": metric, "order": order, "limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == RUNS and len(body["data"]) == 100
    assert [row["item_id"] for row in body["data"]] == want["item_id"].tolist()
    with server.client(timeout=120) as client:  # the next page goes on where this one stopped
        r = client.get(
            f"/jobs/{job['id']}/results", params={"sort": metric, "order": order, "limit": 50, "offset": 100}
        )
    nxt = table.sort_values(metric, ascending=order == "asc", kind="stable", na_position="last").iloc[100:150]
    assert [row["item_id"] for row in r.json()["data"]] == nxt["item_id"].tolist()


def test_sorting_by_a_column_the_results_lack_is_a_422_naming_it(big):
    server, job, _ = big
    with server.client() as client:
        r = client.get(f"/jobs/{job['id']}/results", params={"sort": "sharp"})
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["query", "sort"] and "'sharp'" in detail["msg"] and "'sharpe'" in detail["msg"]


# -- the store, in this process ------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    db = open_database(tmp_path / "jobs.duckdb")
    jobs = JobStore(db)
    yield jobs
    jobs.close()
    release(db)


def _chunk(first: int, n: int) -> pd.DataFrame:
    ids = np.arange(first, first + n)
    return pd.DataFrame({"item_id": ids, "sharpe": np.where(ids % 7 == 0, np.nan, np.sin(ids)), "error": None})


def test_a_sweeps_chunks_become_its_result_without_a_second_write(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 30).id
    sink = store.sink(job_id)
    for k in range(3):
        sink.write(k, _chunk(10 * k, 10), np.ones(2))
    sink.flush()  # write hands a chunk to the store's row writer; flush waits for it to land
    before = {p.name: p.stat().st_mtime_ns for p in store.results_dir(job_id).iterdir()}
    store.complete(job_id, None, {"runs": 30}, done=30, failed=0)
    after = {p.name: p.stat().st_mtime_ns for p in store.results_dir(job_id).iterdir()}
    assert before == after and len(after) == 3  # the same three files, untouched
    record = store.get(job_id)
    assert (record.status, record.rows) == ("done", 30)
    columns, rows, count = store.page(job_id, 25, 10)
    assert count == 30 and [r["item_id"] for r in rows] == list(range(25, 30))
    _, top, _ = store.page(job_id, 0, 3, sort="sharpe")
    want = pd.concat([_chunk(0, 10), _chunk(10, 10), _chunk(20, 10)]).sort_values("sharpe", ascending=False)
    assert [r["item_id"] for r in top] == want["item_id"].head(3).tolist()
    assert sink.extras() == [None, None, None]  # payloads are for the run, not kept once done


def test_many_small_chunk_files_are_joined_into_a_few_parts_in_order(store, monkeypatch):
    import api.jobstore

    monkeypatch.setattr(api.jobstore, "MAX_CHUNK_FILES", 2)
    monkeypatch.setattr(api.jobstore, "COMPACT_ROWS", 20)
    monkeypatch.setattr(api.jobstore, "ROW_GROUP_ROWS", 15)
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 50).id
    sink = store.sink(job_id)
    for k in range(5):
        sink.write(k, _chunk(10 * k, 10))
    store.complete(job_id, None, {"runs": 50}, done=50, failed=0)
    files = sorted(p.name for p in store.results_dir(job_id).iterdir())
    assert files == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert [pq.ParquetFile(store.results_dir(job_id) / f).metadata.num_rows for f in files] == [20, 20, 10]
    _, rows, count = store.page(job_id, 0, 100)
    assert count == 50 and store.get(job_id).rows == 50 and [r["item_id"] for r in rows] == list(range(50))
    _, top, _ = store.page(job_id, 0, 5, sort="sharpe", descending=False)
    want = pd.concat([_chunk(10 * k, 10) for k in range(5)]).sort_values("sharpe", kind="stable")
    assert [r["item_id"] for r in top] == want["item_id"].head(5).tolist()


def test_a_job_without_rows_yet_ranks_to_an_empty_page(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 10).id
    assert store.page(job_id, 0, 10, sort="sharpe") == ([], [], 0)
    store.sink(job_id).write(0, _chunk(0, 3))
    with pytest.raises(ValueError, match="no column 'sharpee'; did you mean 'sharpe'"):
        store.page(job_id, 0, 10, sort="sharpee")


def test_a_chunk_file_a_crash_left_unregistered_is_never_counted(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 20).id
    sink = store.sink(job_id)
    sink.write(0, _chunk(0, 10))
    sink.flush()
    stray = store.results_dir(job_id) / "chunk-00000001.parquet"  # written, then killed before its commit
    _chunk(10, 10).assign(sharpe=99.0).to_parquet(stray)
    assert store.page(job_id, 0, 100)[2] == 10 and sink.done_chunks() == {0}
    sink.write(1, _chunk(10, 10))  # the rerun chunk replaces it
    _, rows, count = store.page(job_id, 0, 100)
    assert count == 20 and all(r["sharpe"] != 99.0 for r in rows)


def test_the_stream_reads_one_stored_file_per_step(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 40).id
    sink = store.sink(job_id)
    for k in range(4):
        sink.write(k, _chunk(10 * k, 10))
    schema, batches = store.batches(job_id)
    first = next(batches)
    assert first.num_rows == 10 and schema.names == ["item_id", "sharpe", "error"]
    # The files after the first are read only when their turn comes: removing one now shows it.
    (store.results_dir(job_id) / "chunk-00000003.parquet").unlink()
    assert sum(b.num_rows for b in [next(batches), next(batches)]) == 20
    with pytest.raises(FileNotFoundError):
        next(batches)


def test_a_store_with_rows_kept_as_blobs_has_them_moved_to_files(tmp_path):
    import pyarrow as pa

    from api.fragments import to_arrow

    db = open_database(tmp_path / "old.duckdb")
    store = JobStore(db)
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 2).id
    store.flush()
    blob = pa.BufferOutputStream()
    pq.write_table(to_arrow(_chunk(0, 2)), blob)
    with db.write() as cur:  # what an older version left: a chunk as a blob
        cur.execute(
            f"CREATE TABLE {store.S}.chunk (job_id VARCHAR NOT NULL, chunk_id INTEGER NOT NULL, "
            "rows BIGINT NOT NULL, frame BLOB NOT NULL, extra BLOB, extra_kind VARCHAR)"
        )
        cur.execute(
            f"INSERT INTO {store.S}.chunk VALUES (?, 0, 2, ?, NULL, NULL)", [job_id, blob.getvalue().to_pybytes()]
        )
    store.close()
    release(db)
    db = open_database(tmp_path / "old.duckdb")
    store = JobStore(db)
    try:
        assert store.sink(job_id).done_chunks() == {0}
        _, rows, count = store.page(job_id, 0, 10)
        assert count == 2 and [r["item_id"] for r in rows] == [0, 1]
    finally:
        store.close()
        release(db)


# -- the row writer: several chunks per transaction, every chunk once ------------------


def test_chunks_written_while_the_writer_waits_are_stored_in_one_transaction(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 100).id
    sink = store.sink(job_id)
    before = store.rows.transactions
    with store.db.write():  # the writer blocks on its first transaction while ten more chunks queue
        for k in range(10):
            sink.write(k, _chunk(10 * k, 10))
    sink.flush()
    # The writer takes the first chunk(s) and waits for the lock; the rest queue meanwhile and
    # go in one more transaction (or all in one, when the thread started after every write).
    assert 1 <= store.rows.transactions - before <= 2
    _, rows, count = store.page(job_id, 0, 1000)
    assert count == 100 and [r["item_id"] for r in rows] == list(range(100))
    record = store.get(job_id)
    assert (record.done, record.rows) == (100, 100)


def test_a_chunk_written_twice_counts_once_even_in_one_batch(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 20).id
    sink = store.sink(job_id)
    with store.db.write():
        for k in (0, 1, 1, 0):
            sink.write(k, _chunk(10 * k, 10))
    sink.write(1, _chunk(10, 10))  # and once more, after they landed
    sink.flush()
    assert sink.done_chunks() == {0, 1} and store.get(job_id).done == 20
    assert store.page(job_id, 0, 100)[2] == 20


def test_a_chunk_that_cannot_be_stored_fails_the_next_flush_naming_why(store):
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 10).id
    sink = store.sink(job_id)
    store.results_dir(job_id).parent.mkdir(parents=True, exist_ok=True)
    store.results_dir(job_id).write_text("not a folder")  # the chunk's folder cannot be made
    sink.write(0, _chunk(0, 10))
    with pytest.raises(OSError):
        sink.flush()
    sink.flush()  # reported once
    assert sink.done_chunks() == set() and store.get(job_id).done == 0


# -- the end of a sweep: queries over the files, not a table in pandas --------------------

SMALL = {
    "kind": "sweep",
    "strategy": "sma_cross",
    "data": {"symbol": "SPX"},
    "space": {"fast": {"low": 5, "high": 40, "step": 5}, "slow": {"low": 50, "high": 150, "step": 10}},
}


def _checked(bars):
    from api import specs
    from api.service.jobs import SPEC

    return lambda spec, uploaded=None: specs.prepare(SPEC.validate_python(spec), uploaded, bars=lambda _: bars)


@pytest.fixture
def counted(monkeypatch):
    """Counts whole-table reads: every way to the table as frames goes through a DuckSink's ``frames``."""
    from api.jobstore import DuckSink

    reads: list[str] = []
    frames = DuckSink.frames
    monkeypatch.setattr(DuckSink, "frames", lambda self: reads.append("frames") or frames(self))
    return reads


def test_a_stored_sweep_answers_from_duckdb_as_pandas_does_and_reads_its_table_only_when_asked(
    store, sp500_bars, counted
):
    from api import specs
    from cluster.sinks import MemorySink
    from cluster.sweep_result import StoredSweepResult

    checked = _checked(sp500_bars[-1500:])(SMALL)
    local = {"address": "local-threads", "workers": 2}
    stored = specs.execute(checked, out=store.sink(store.create("sweep", "x", SMALL, 88).id), **local)
    memory = specs.execute(checked, out=MemorySink(), **local)
    assert isinstance(stored, StoredSweepResult) and not isinstance(memory, StoredSweepResult)
    summary, want = stored.summary(), specs.summary(memory)
    assert summary["runs"] == want["runs"] == len(memory.table)
    assert stored.best == memory.best
    assert summary["deflated_sharpe"] == pytest.approx(want["deflated_sharpe"], rel=1e-9)
    diag, want_diag = stored.diagnostics, memory.diagnostics
    assert (diag["trials"], diag["best_params"]) == (want_diag["trials"], want_diag["best_params"])
    assert diag["deflated_sharpe"] == pytest.approx(want_diag["deflated_sharpe"], rel=1e-9)
    assert stored.errors() == []
    shown = stored.for_report().table
    assert len(shown) == len(memory.table) and "sharpe" in shown and "calmar" not in shown
    best10 = stored.for_report(limit=10).table  # a big sweep's report draws its best runs only
    want10 = memory.table.sort_values("sharpe", ascending=False, kind="stable").head(10)
    assert best10["item_id"].tolist() == sorted(want10["item_id"])
    assert counted == [] and stored.table_reads == 0  # none of that read the whole table
    same = stored.table  # the library user's table: read now, once, equal to the one in memory
    pd.testing.assert_frame_equal(same.drop(columns="error"), memory.table.drop(columns="error"), check_dtype=False)
    assert stored.table is same and stored.table_reads == 1 and counted == ["frames"]


def test_the_service_ends_a_sweep_without_building_its_table(store, sp500_bars, counted, monkeypatch):
    import api.jobstore
    from api import specs
    from api.service import reports
    from api.service.runner import Runner
    from api.settings import Settings
    from cluster.sinks import MemorySink

    monkeypatch.setattr(api.jobstore, "MAX_CHUNK_FILES", 2)  # its chunks are joined before the queries
    load = _checked(sp500_bars[-1500:])
    runner = Runner(store, Settings(address="local-threads", workers=2), lookup=lambda name: None, load_spec=load)
    job_id = store.create("sweep", "sma_cross", SMALL, 88).id
    runner.enqueue(job_id, total=88)
    runner.start()
    try:
        for _ in range(3000):  # waits for the job (up to 5 minutes), times nothing
            record = store.get(job_id)
            if record.status not in ("queued", "running"):
                break
            time.sleep(0.1)
    finally:
        runner.stop()
    assert record.status == "done", record.error
    assert counted == []  # the runner asked DuckDB, never for the whole table
    memory = specs.execute(load(SMALL), out=MemorySink(), address="local-threads", workers=2)
    want = specs.summary(memory)
    assert record.summary["runs"] == want["runs"] and record.rows == want["runs"]
    assert record.summary["best"]["sharpe"] == pytest.approx(want["best"]["sharpe"], rel=1e-12)
    assert record.summary["deflated_sharpe"] == pytest.approx(want["deflated_sharpe"], rel=1e-9)
    assert reports.path_of(store, job_id).exists()
    files = sorted(p.name for p in store.results_dir(job_id).iterdir())
    assert files and all(name.startswith("part-") for name in files)
    _, rows, count = store.page(job_id, 0, 1000)
    assert count == 88 and [r["item_id"] for r in rows] == list(range(88))


def test_chunks_joined_before_the_end_stay_done_and_are_counted_once(store, monkeypatch):
    import api.jobstore

    monkeypatch.setattr(api.jobstore, "MAX_CHUNK_FILES", 2)
    monkeypatch.setattr(api.jobstore, "COMPACT_ROWS", 20)
    job_id = store.create("sweep", "x", {"kind": "sweep"}, 50).id
    sink = store.sink(job_id)
    for k in range(5):
        sink.write(k, _chunk(10 * k, 10))
    assert store.join_chunks(job_id) and not store.join_chunks(job_id)  # once
    names = sorted(p.name for p in store.results_dir(job_id).iterdir())
    assert names == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert store.sink(job_id).done_chunks() == set(range(5))  # a resumed job has nothing to rerun
    _, rows, count = store.page(job_id, 0, 100)
    assert count == 50 and [r["item_id"] for r in rows] == list(range(50))
    store.complete(job_id, None, {"runs": 50}, done=50, failed=0)
    assert store.get(job_id).rows == 50 and store.sink(job_id).done_chunks() == set()
    assert sorted(p.name for p in store.results_dir(job_id).iterdir()) == names
    _, rows, count = store.page(job_id, 0, 100)
    assert count == 50 and [r["item_id"] for r in rows] == list(range(50))
