"""The job store in DuckDB: records, and a Sink the cluster writes chunks into and resumes from."""

from __future__ import annotations

import datetime as dt
import math
import threading

import numpy as np
import pandas as pd
import pytest

import cluster
import engine
from api.jobrecord import is_job_id, jsonable
from api.jobstore import JobStore
from api.service.jobs import JobService
from api.service.runner import Runner
from api.service.data import safe_name
from api.settings import Settings, TokenFileError, load_token
from cluster.sinks import JobMismatchError, MemorySink
from engine.store import open_database, release
from tests.cluster.conftest import COST, Slow, SmaX

SPACE = {"fast": range(5, 40, 5), "slow": range(20, 120, 20)}
LOCAL = {"address": "local-threads", "workers": 2}


@pytest.fixture
def store(tmp_path):
    db = open_database(tmp_path / "jobs.duckdb")
    jobs = JobStore(db)
    yield jobs
    jobs.close()
    release(db)


@pytest.fixture(scope="module")
def bars(sp500_bars):
    return sp500_bars[-1200:]


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal tables; a missing error may read back as None or NaN."""
    errors = [c for c in a.columns if c == "error"]
    pd.testing.assert_frame_equal(a.drop(columns=errors), b.drop(columns=errors), check_dtype=False)
    for c in errors:
        assert a[c].isna().tolist() == b[c].isna().tolist()


def new_job(store: JobStore, items: int = 10) -> str:
    return store.create("sweep", "sma_cross", {"kind": "sweep"}, items).id


def test_a_sink_gives_back_exactly_what_was_written(store):
    sink = store.sink(new_job(store))
    a = pd.DataFrame(
        {
            "item_id": [0, 1],
            "symbol": ["X", "X"],
            "fast": [5, 6],
            "flag": [True, False],
            "sharpe": [1.5, np.nan],
            "error": [None, None],
        }
    )
    b = pd.DataFrame({"item_id": [7], "sharpe": [np.inf], "error": ["boom"]})  # other columns, as walk-forward writes
    sink.write(3, b, {"equity": np.arange(4.0), "trades": np.zeros(2, [("pnl", "f8"), ("bar", "i8")])})
    sink.write(1, a, np.ones((2, 3)))
    sink.write(1, a.assign(sharpe=[9.0, 9.0]))  # a chunk is stored once
    assert sink.done_chunks() == {1, 3}
    got_a, got_b = sink.frames()
    pd.testing.assert_frame_equal(got_a.drop(columns="error"), a.drop(columns="error"), check_dtype=False)
    assert list(got_a.columns) == list(a.columns) and got_a["error"].isna().all()
    assert got_a["fast"].dtype == np.int64 and got_a["flag"].dtype == bool
    assert list(got_b.columns) == ["item_id", "sharpe", "error"] and got_b["error"][0] == "boom"
    assert math.isinf(got_b["sharpe"][0])
    one, two = sink.extras()
    np.testing.assert_array_equal(one, np.ones((2, 3)))
    np.testing.assert_array_equal(two["equity"], np.arange(4.0))
    assert two["trades"].dtype.names == ("pnl", "bar")
    record = store.get(sink.job_id)
    assert (record.done, record.failed, record.rows) == (3, 1, 3)


def test_manifests_are_kept_per_job(store):
    sink = store.sink(new_job(store))
    assert sink.load_manifest() is None
    sink.save_manifest({"job": "abc", "chunk_size": 4})
    assert store.sink(sink.job_id).load_manifest() == {"job": "abc", "chunk_size": 4}
    assert store.sink(new_job(store)).load_manifest() is None


def test_a_sweep_into_the_store_equals_one_in_memory(store, bars):
    sink = store.sink(new_job(store))
    stored = cluster.sweep(SmaX, bars, SPACE, COST, out=sink, **LOCAL)
    memory = cluster.sweep(SmaX, bars, SPACE, COST, out=MemorySink(), **LOCAL)
    same(stored.table, memory.table)
    assert stored.best == memory.best


def test_a_walk_forward_into_the_store_equals_one_in_memory(store, bars):
    args = (SmaX, bars, {"fast": [5, 10], "slow": [30, 60]}, 400, 200)
    stored = cluster.walk_forward(*args, out=store.sink(new_job(store)), **LOCAL)
    memory = cluster.walk_forward(*args, **LOCAL)
    same(stored.windows, memory.windows)
    pd.testing.assert_series_equal(stored.equity, memory.equity)


def test_an_interrupted_sweep_resumes_from_the_store_running_only_missing_chunks(store, bars):
    job_id = new_job(store)
    cancel = threading.Event()

    def stop_after_some(p):
        if p.done >= 6:
            cancel.set()

    first = cluster.sweep(
        Slow,
        bars,
        SPACE,
        COST,
        out=store.sink(job_id),
        chunk_size=2,
        progress=stop_after_some,
        cancel=cancel,
        address="local-threads",
        workers=1,
    )
    assert first.run.cancelled
    stored = len(store.sink(job_id).done_chunks())
    assert 0 < stored
    second = cluster.sweep(Slow, bars, SPACE, COST, out=store.sink(job_id), **LOCAL)
    full = cluster.sweep(SmaX, bars, SPACE, COST, **LOCAL)
    assert second.run.done_items == len(full.table) - 2 * stored
    metrics = list(engine.METRICS)
    pd.testing.assert_frame_equal(second.table[metrics], full.table[metrics])
    with pytest.raises(JobMismatchError):
        cluster.sweep(SmaX, bars, {"fast": [5]}, COST, out=store.sink(job_id), **LOCAL)


def test_completing_a_job_moves_its_rows_to_its_results(store):
    job_id = new_job(store, items=2)
    store.sink(job_id).write(0, pd.DataFrame({"item_id": [0, 1], "sharpe": [1.0, np.nan], "error": [None, "x"]}))
    columns, rows, count = store.page(job_id, 0, 10)
    assert count == 2 and columns == ["item_id", "sharpe", "error"] and rows[1]["sharpe"] is None
    table = pd.DataFrame(
        {"window": [0, 1], "when": pd.to_datetime(["2020-01-01", "2020-02-01"], utc=True), "oos_sharpe": [0.5, -np.inf]}
    )
    store.complete(job_id, table, {"windows": 2, "p": np.float64(np.nan)}, done=2, failed=1)
    record = store.get(job_id)
    assert (record.status, record.rows, record.done, record.failed) == ("done", 2, 2, 1)
    assert record.summary == {"windows": 2, "p": None}
    assert store.sink(job_id).done_chunks() == set()
    columns, rows, count = store.page(job_id, 1, 10)
    assert columns == ["window", "when", "oos_sharpe"] and count == 2
    assert rows == [{"window": 1, "when": "2020-02-01T00:00:00+00:00", "oos_sharpe": None}]
    schema, batches = store.batches(job_id)
    assert schema.names == columns and sum(b.num_rows for b in batches) == 2


def test_a_job_stored_done_reads_done_while_its_runner_still_holds_its_live_state(store):
    # The runner stores the final record, then drops the live state: between the two a
    # reader must see the record, not the older live progress (once read "0 of 1").
    runner = Runner(store, Settings(), lookup=lambda name: None, load_spec=lambda spec: spec)
    jobs = JobService(store, runner, strategies=None, data=None, settings=Settings())
    job_id = new_job(store, items=1)
    runner.enqueue(job_id, total=1)  # live progress: 0 of 1
    assert jobs.get(job_id).done == 0
    store.complete(job_id, pd.DataFrame({"pnl": [1.0]}), {"trades": 1}, done=1, failed=0)
    assert runner.live(job_id) is not None
    record = jobs.get(job_id)
    assert (record.status, record.done, record.total) == ("done", 1, 1)
    listed, _ = jobs.list()
    assert (listed[0].status, listed[0].done) == ("done", 1)


def test_records_list_newest_first_and_recover_marks_unfinished_jobs_interrupted(store):
    ids = [new_job(store) for _ in range(4)]
    store.set_status(ids[0], "running")
    store.set_status(ids[1], "done")
    records, count = store.list()
    assert count == 4 and {r.id for r in records} == set(ids)
    assert [r.id for r in store.list(status="done")[0]] == [ids[1]]
    assert len(store.list(offset=1, limit=2)[0]) == 2
    assert sorted(store.recover()) == sorted([ids[0], ids[2], ids[3]])
    assert {store.get(i).status for i in (ids[0], ids[2], ids[3])} == {"interrupted"}
    assert store.get(ids[0]).attempts == 1 and store.get(ids[1]).status == "done"
    assert store.get("nope") is None and is_job_id(ids[0]) and not is_job_id("../x")


def test_uploaded_strategies_are_kept_by_id(store):
    store.add_strategy("up_1", "Mine", "source 1", {"name": "Mine", "parameters": {}})
    store.add_strategy("up_1", "Mine", "source 2", {"name": "Mine", "parameters": {}})
    assert store.strategy_source("up_1") == "source 1"
    assert store.strategy_source("up_2") is None
    [(sid, description, when)] = store.strategies()
    assert sid == "up_1" and description["name"] == "Mine" and when.tzinfo is dt.timezone.utc


def test_jsonable_leaves_no_nan_infinity_or_numpy():
    value = {
        "a": np.float32(np.nan),
        "b": [np.inf, -np.inf, 1.5],
        "c": (np.int64(3), np.bool_(True)),
        "d": pd.Timestamp("2020-01-01", tz="UTC"),
        "e": pd.NaT,
        "f": np.array([1.0, np.nan]),
        7: None,
    }
    assert jsonable(value) == {
        "a": None,
        "b": [None, None, 1.5],
        "c": [3, True],
        "d": "2020-01-01T00:00:00+00:00",
        "e": None,
        "f": [1.0, None],
        "7": None,
    }


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\aapl.csv", "aapl.csv"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
        ("a\x00b.csv", "ab.csv"),
        ("/", "upload"),
        ("spy.parquet", "spy.parquet"),
    ],
)
def test_an_uploaded_file_name_becomes_a_bare_label(name, label):
    assert safe_name(name) == label


def test_the_token_comes_from_the_setting_else_a_private_file(tmp_path):
    assert load_token(Settings(api_token="given", token_file=tmp_path / "t")) == "given"
    assert not (tmp_path / "t").exists()
    made = load_token(Settings(api_token=None, token_file=tmp_path / "t"))
    assert load_token(Settings(api_token=None, token_file=tmp_path / "t")) == made
    (tmp_path / "t").chmod(0o640)
    with pytest.raises(TokenFileError, match="chmod 600"):
        load_token(Settings(api_token=None, token_file=tmp_path / "t"))
