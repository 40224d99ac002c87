"""One store, many processes: a notebook that keeps what ``engine.load`` returned, the
CLI importing, a sweep running and another process loading — all on one DuckDB file,
each a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.store import Store, StoreBusyError, StoreError, open_database, release
from tests.api.conftest_cli import SMA_SPX

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

NOTEBOOK = textwrap.dedent(
    """
    import sys
    import engine

    kept = {"SPX": engine.load("SPX")}          # a cell's result, kept alive
    print("ready", len(kept["SPX"]), flush=True)
    for line in sys.stdin:                       # the next cells
        symbol, timeframe = line.split()
        kept[symbol] = engine.load(symbol, timeframe)
        print(symbol, len(kept[symbol]), float(kept["SPX"].close[-1]), flush=True)
    """
)


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANVIL_", "RAY_ADDRESS"))}
    env.update(ANVIL_DB=str(db), PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), COLUMNS="200")
    return env


def _python(code: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=_env(db), cwd=REPO, capture_output=True, text=True, timeout=300
    )


def _anvil(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        env=_env(db),
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_notebook_the_cli_a_sweep_and_another_reader_share_one_store(tmp_path):
    db = tmp_path / "anvil.duckdb"
    Store(db).close()  # the sample, as a first `engine.load` would make it
    notebook = subprocess.Popen(
        [sys.executable, "-c", NOTEBOOK],
        env=_env(db),
        cwd=REPO,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert notebook.stdout is not None and notebook.stdin is not None
        ready = notebook.stdout.readline()
        assert ready.split() == ["ready", "5031"], notebook.stderr.read() if notebook.stderr else ""

        # While the notebook holds its bars: a sweep runs, and the CLI imports.
        sweep = _anvil(
            db, "sweep", *SMA_SPX, "--space", "fast=5:20:5", "slow=50", "--address", "local-threads", "-q", "--json"
        )
        imported = _anvil(db, "data", "import", str(DATA / "mt5_eurusd_h1.csv"), "--symbol", "EURUSD", "-q")
        out, err = imported.communicate(timeout=300)
        assert imported.returncode == 0, err
        assert "EURUSD 1h: +48 new" in out
        out, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, err
        assert json.loads(out)["summary"]

        # Another process reads what the CLI imported.
        other = _python("import engine; print(len(engine.load('EURUSD', '1h')))", db)
        assert other.returncode == 0, other.stderr
        assert other.stdout.split() == ["48"]

        # And the notebook, still alive with its first result, reads it too.
        notebook.stdin.write("EURUSD 1h\n")
        notebook.stdin.flush()
        answer = notebook.stdout.readline().split()
        assert answer[:2] == ["EURUSD", "48"], notebook.stderr.read() if notebook.stderr else ""
    finally:
        _, err = notebook.communicate(timeout=60)  # closes its stdin: the session ends
    assert notebook.returncode == 0, err


def test_a_store_holds_nothing_open_between_calls(tmp_path):
    """After a read or an import, another process can open the file read-write (a read
    leaves the file attached a quarter of a second, so it may wait that long)."""
    db = tmp_path / "anvil.duckdb"
    with Store(db) as store:
        store.bars("SPX", "1d")
        store.import_bars(DATA / "yahoo_acme.csv", symbol="ACME")
        writer = _python(
            "import sys; from engine.store import open_database, release; "
            f"release(open_database({str(db)!r}, wait=10)); print('opened')",
            db,
        )
        assert writer.returncode == 0, writer.stderr
        assert writer.stdout.strip() == "opened"


def test_a_held_store_tells_others_who_holds_it_and_where_to_go(tmp_path):
    db = tmp_path / "anvil.duckdb"
    with Store(db) as store:
        store.hold("the anvil service", "http://127.0.0.1:8123")
        other = _python(
            "from engine.store import Store, StoreBusyError\n"
            "try:\n    Store()\nexcept StoreBusyError as exc:\n    print(exc.url); print(exc)\n",
            db,
        )
        assert other.returncode == 0, other.stderr
        url, message = other.stdout.splitlines()[:2]
        assert url == "http://127.0.0.1:8123"
        assert f"the store {db} is held by the anvil service (pid {os.getpid()})" in message
        assert "--url http://127.0.0.1:8123" in message
    assert not (tmp_path / "anvil.duckdb.owner").exists()
    with Store(db) as again:  # let go: usable again
        assert len(again.bars("SPX", "1d")) == 5031


def test_a_file_kept_busy_without_a_marker_is_waited_for_then_named(tmp_path):
    db = tmp_path / "anvil.duckdb"
    Store(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom engine.store import open_database\n"
            f"db = open_database({str(db)!r})\nprint('held', flush=True)\nsys.stdin.read()\n",
        ],
        env=_env(db),
        cwd=REPO,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError) as err:
            release(open_database(db, read_only=True, wait=0))
        assert not isinstance(err.value, StoreBusyError)
        assert "in use by another process" in str(err.value) and f"PID {holder.pid}" in str(err.value)
    finally:
        holder.communicate(timeout=60)
    release(open_database(db, read_only=True, wait=10))  # the holder has gone: free again


def test_threads_of_one_process_share_one_attachment(tmp_path):
    """A writer in a process waits for that process's readers, and readers use an open writer."""
    db = tmp_path / "j.duckdb"
    w = open_database(db)
    r = open_database(db, read_only=True)
    assert r is w  # a reader gets the read-write attachment
    release(r)
    release(w)
    ro = open_database(db, read_only=True)
    import threading

    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(open_database(db)))
    t.start()
    t.join(0.2)
    assert t.is_alive() and not got  # waiting for the reader
    release(ro)
    t.join(30)
    assert got and not got[0].read_only  # type: ignore[attr-defined]
    release(got[0])  # type: ignore[arg-type]


def test_at_exit_every_store_file_is_detached_and_its_cursors_closed(tmp_path):
    # A cursor left open in another thread is otherwise torn down while the interpreter
    # finalizes, where DuckDB can crash the process (duckdb/duckdb#13904).
    script = textwrap.dedent(f"""
        import atexit, threading
        seen = {{}}
        atexit.register(lambda: print("closed at exit:", seen["db"].closed, seen["db"]._cursors == []))
        from engine.store import open_database  # its exit hook runs before the one above
        db = seen["db"] = open_database({str(tmp_path / "x.duckdb")!r})
        with db.write() as cur:
            cur.execute("CREATE TABLE t AS SELECT 1 AS a")
        reader = threading.Thread(target=lambda: db.cursor().execute("SELECT a FROM t").fetchall())
        reader.start(); reader.join()
        print("open before exit:", not db.closed, len(db._cursors))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["open before exit: True 2", "closed at exit: True True"]
