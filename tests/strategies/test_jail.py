"""The jail for uploaded code: same answers as in-process, limits that hold, walls that hold.

Real bubblewrap jails on this machine (skipped loudly where none can be built;
under CI=true that is a failure). The hostile hold-out set (``tests/data/hostile``)
runs here with the language-level checks switched off, as plain Python, so only
the jail stands between it and the machine.
"""

from __future__ import annotations

import os
import socket
import threading

import numpy as np
import pytest

import strategies
from engine.errors import InvalidSignalError
from strategies import jail
from strategies.jail import _wire
from strategies.loader import load_strategy
from tests.sources import SLOW_TREND
from tests.strategies.jail_fixtures import hostile, hostile_port, markers_on_host, require_jail, skip_unless_ci

SECRET = "s3cret-token-of-the-service-7f3a"

TREND = '''
"""Long while the fast SMA is above the slow one."""
import numpy as np
from strategies import Strategy, Int, indicators


class Trend(Strategy):
    """Long while the fast SMA is above the slow one."""

    fast = Int(10, low=2, high=100)
    slow = Int(30, low=5, high=400)
    constraints = ("fast < slow",)

    def signals(self, bars, fast, slow):
        f, s = indicators.sma(bars.close, fast), indicators.sma(bars.close, slow)
        return np.where(f > s, 1, 0).astype(np.int8)
'''

STEPPER = SLOW_TREND  # Python on every bar

LIAR = """
import numpy as np
import strategies.runner
from strategies import Strategy


class Liar(Strategy):
    def signals(self, bars):
        return np.zeros(len(bars), np.int8)


# What a jail taken over by its code could answer: the trusted side must still refuse it.
strategies.runner.signal_matrix = lambda cls, bars, sets: np.full((len(sets), len(bars)), 5, np.int8)
"""

pytestmark = pytest.mark.usefixtures("jail_ok")


@pytest.fixture(scope="module")
def jail_ok() -> None:
    require_jail()


@pytest.fixture
def job(request: pytest.FixtureRequest) -> str:
    name = f"test-{request.node.name}"
    yield name
    jail.release(name)


FAST = jail.Limits(call_seconds=20, load_seconds=60, memory_bytes=1 << 30, pool_size=2)


def uploaded(source: str, job: str, limits: jail.Limits = FAST) -> type[jail.JailedStrategy]:
    return jail.jailed(source, jail.describe(source, limits), job=job, limits=limits)


def test_a_jailed_strategy_gives_what_it_gives_in_process(sp500_bars, job: str) -> None:
    jailed = uploaded(TREND, job)
    assert jailed.is_vectorized() and jailed.name == "Trend" and jailed.constraints == ("fast < slow",)
    assert jailed.parameters() == load_strategy(TREND).parameters()
    here = load_strategy(TREND)
    sets = [{"fast": f, "slow": s} for f in (5, 10, 20) for s in (30, 60)]
    np.testing.assert_array_equal(
        strategies.signal_matrix(jailed, sp500_bars, sets), strategies.signal_matrix(here, sp500_bars, sets)
    )
    a = strategies.run_many(jailed, sp500_bars, sets)
    b = strategies.run_many(here, sp500_bars, sets)
    assert a.equals(b)


def test_a_bar_by_bar_backtest_runs_whole_in_the_jail(sp500_bars, job: str) -> None:
    jailed = uploaded(STEPPER, job)
    assert not jailed.is_vectorized()
    got = strategies.run(jailed, sp500_bars, None, {"window": 30})
    want = strategies.run(load_strategy(STEPPER), sp500_bars, None, {"window": 30})
    assert got.stats == want.stats
    assert got.trades.equals(want.trades)
    np.testing.assert_array_equal(got.equity.to_numpy(), want.equity.to_numpy())


def test_signals_from_a_jail_are_checked_like_any_signal(sp500_bars, job: str) -> None:
    description = {"name": "Liar", "kind": "vectorized", "parameters": {}, "constraints": []}
    cls = jail.jailed(LIAR, description, job=job, limits=FAST)
    jail.pool(job, LIAR, FAST).checks = False  # plain Python: its code rewrites the jail's answers
    with pytest.raises(InvalidSignalError, match="signal"):
        strategies.run(cls, sp500_bars)


def test_what_a_jail_sends_back_is_never_unpickled() -> None:
    text = b'{"ok": true, "arrays": [["|O", [1]]]}'
    with pytest.raises(_wire.WireError):
        _wire.decode(text, b"\0" * 8)
    with pytest.raises(_wire.WireError):  # sizes that do not add up
        _wire.decode(b'{"arrays": [["<f8", [4]]]}', b"\0" * 8)
    with pytest.raises(_wire.WireError, match="RecursionError"):  # nested past the parser: the jail is killed
        _wire.decode(b'{"a": ' + b"[" * 1_000_000, b"")
    head, arrays = _wire.decode(b'{"arrays": [["<f8", [1]]]}', np.array([1.5]).tobytes())
    assert arrays[0][0] == 1.5


def test_a_source_the_loader_refuses_is_refused_from_inside_the_jail() -> None:
    with pytest.raises(jail.StrategyFailed, match="open"):
        jail.describe(TREND.replace("return np.where", "open('/etc/passwd')\n        return np.where"), FAST)


def test_a_call_past_its_time_limit_is_killed_and_not_retried(sp500_bars, job: str) -> None:
    limits = jail.Limits(call_seconds=1.0, load_seconds=60, pool_size=1)
    cls = jail.jailed(hostile("infinite_loop"), jail.describe(hostile("infinite_loop"), limits), job=job, limits=limits)
    with pytest.raises(jail.JailDied, match="longer than its limit"):
        strategies.signal(cls, sp500_bars)
    p = jail.pool(job, cls._source, limits)
    assert p.strikes == 1  # one death: not tried again, since it would only time out again
    with pytest.raises(jail.JailDied):
        strategies.signal(cls, sp500_bars)
    with pytest.raises(jail.JailBroken, match=jail.BROKEN):  # two deaths: the pool is broken
        strategies.signal(cls, sp500_bars)


def test_a_crash_is_retried_once_in_a_fresh_process_then_the_pool_breaks(sp500_bars, job: str) -> None:
    roomy = jail.Limits(call_seconds=300, load_seconds=60, memory_bytes=1 << 30, pool_size=1)  # a crash, not a timeout
    cls = uploaded(hostile("map_chain"), job, roomy)
    with pytest.raises(jail.JailDied, match="SIGSEGV|killed"):
        strategies.signal(cls, sp500_bars)
    assert jail.pool(job, cls._source, roomy).strikes == 2  # the first try and its retry
    with pytest.raises(jail.JailBroken, match="crashed its jail twice"):
        strategies.signal(cls, sp500_bars)


def test_release_ends_a_running_call_at_once(sp500_bars, job: str) -> None:
    limits = jail.Limits(call_seconds=300, load_seconds=60, pool_size=1)
    cls = jail.jailed(hostile("infinite_loop"), jail.describe(hostile("infinite_loop"), limits), job=job, limits=limits)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            strategies.signal(cls, sp500_bars)
        except BaseException as exc:  # noqa: BLE001 - looked at below
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    p = jail.pool(job, cls._source, limits)
    while not p._all and t.is_alive():  # the process is up and the call under way
        t.join(0.05)
    jail.release(job)
    t.join(60)
    assert not t.is_alive()
    assert isinstance(errors[0], jail.JailClosed), errors
    with pytest.raises(jail.JailClosed):
        strategies.signal(cls, sp500_bars)


def test_release_kills_a_jail_that_is_still_starting(job: str) -> None:
    """A cancel while a job's jail loads its source (here: forever) ends the call at once,
    instead of after the start-up and load limits."""
    limits = jail.Limits(call_seconds=300, load_seconds=300, pool_size=1)
    hangs = "while True:\n    pass\n"  # load-time code: only the unchecked jail runs it
    p = jail.pool(job, hangs, limits)
    p.checks = False
    errors: list[BaseException] = []

    def call() -> None:
        try:
            p.call({"op": "signals", "bars": "none", "sets": [{}]})
        except BaseException as exc:  # noqa: BLE001 - looked at below
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    for _ in range(600):  # bwrap runs: the pool knows the process from its start
        if p._all or not t.is_alive():
            break
        t.join(0.05)
    jail.release(job)
    t.join(60)  # the load limit is 300 s: only the kill ends it sooner
    assert not t.is_alive()
    assert isinstance(errors[0], jail.JailClosed), errors


# -- the walls, with the language-level checks switched off ------------------------------------
def run_unchecked(name: str, bars, limits: jail.Limits = FAST, source: str | None = None) -> str:
    """Run a hostile source (or ``source``) as plain Python in a jail; what it said (its
    error) or how it died."""
    proc = jail.JailProcess(source or hostile(name), limits, checks=False)
    try:
        from strategies.jail._standin import bars_message

        key, head, arrays = bars_message(bars)
        proc.call({"op": "bars", "key": key, **head}, arrays)
        proc.call({"op": "signals", "bars": key, "sets": [{}]})
    except (jail.StrategyFailed, jail.JailDied) as exc:
        return str(exc)
    finally:
        proc.kill()
    return "it returned"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANVIL_API_TOKEN", SECRET)
    return SECRET


PROBE = """
from strategies import Strategy


class Probe(Strategy):
    def signals(self, bars):
        with open("/proc/self/status") as f:
            found = [line.split() for line in f if line.startswith(("Seccomp:", "NoNewPrivs:", "CapEff:"))]
        with open("/proc/self/stat") as f:
            found.append(["nice:", f.read().rsplit(")", 1)[1].split()[16]])
        raise RuntimeError(repr(found))
"""


def test_the_seccomp_filter_is_on_and_no_privilege_is_left(sp500_bars) -> None:
    """The fork and socket tests pass on the namespaces alone too: this one sees the filter.
    And jailed code runs below the service's priority (it yields the CPU to /health)."""
    from strategies.jail import _seccomp

    said = run_unchecked("probe", sp500_bars, source=PROBE)
    assert "['NoNewPrivs:', '1']" in said and "['CapEff:', '0000000000000000']" in said, said
    assert f"['nice:', '{min(19, os.nice(0) + FAST.niceness)}']" in said, said
    if _seccomp.program() is None:
        pytest.skip("NO SECCOMP FILTER for this architecture; the jail runs on its namespaces and limits alone")
    assert "['Seccomp:', '2']" in said, said  # 2: a filter is installed


def test_unchecked_code_cannot_write_outside_its_scratch_dir(sp500_bars) -> None:
    said = run_unchecked("write_root", sp500_bars)
    assert "wrote nothing" in said, said
    assert markers_on_host() == []


def test_unchecked_code_cannot_read_files_beside_anvils_packages(sp500_bars) -> None:
    """A store, token file or data kept in the checkout stays out of the jail: only anvil's
    packages of that folder are shown."""
    from strategies.jail._command import anvil_root

    planted = anvil_root() / f".jail-probe-{os.getpid()}"
    planted.write_text(SECRET)
    try:
        said = run_unchecked("read_beside_code", sp500_bars)
    finally:
        planted.unlink()
    assert "read nothing" in said, said
    assert SECRET not in said


def test_unchecked_code_cannot_read_the_services_environment(sp500_bars, secret_env: str) -> None:
    said = run_unchecked("proc_environ", sp500_bars)
    assert "FOUND: pid1 env=''" in said and "own env={'OPENBLAS" in said, said
    assert secret_env not in said
    pids = said.split("pids=")[1]
    assert pids.count("'") <= 8, said  # only the jail's own few processes: bwrap's init and the worker
    said = run_unchecked("userstring_format", sp500_bars)
    assert secret_env not in said


def test_unchecked_code_cannot_open_a_socket(sp500_bars) -> None:
    HOSTILE_PORT = hostile_port()
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", HOSTILE_PORT))
        except OSError:
            skip_unless_ci(f"port {HOSTILE_PORT} is taken on this machine; the socket source needs it")
        listener.listen(1)
        listener.settimeout(0.5)
        said = run_unchecked("socket_loopback", sp500_bars)
        assert "Operation not permitted" in said or "refused" in said, said
        with pytest.raises(socket.timeout):
            listener.accept()


def test_unchecked_code_cannot_fork(sp500_bars) -> None:
    said = run_unchecked("fork_bomb", sp500_bars)
    assert "Operation not permitted" in said or "Resource temporarily unavailable" in said, said


def test_unchecked_code_cannot_take_the_machines_memory(sp500_bars) -> None:
    said = run_unchecked("big_alloc", sp500_bars)
    assert "MemoryError" in said or "Unable to allocate" in said, said


def test_unchecked_pointer_forging_stays_in_the_jail(sp500_bars, secret_env: str) -> None:
    said = run_unchecked("object_buffer", sp500_bars)
    assert secret_env not in said
    assert markers_on_host() == []


def test_an_install_under_the_scratch_path_stays_visible_in_the_jail():
    """A checkout or venv under /tmp (a CI clone) is bound over the jail's scratch tmpfs,
    not hidden by it: bwrap mounts in order, so the tmpfs comes first."""
    require_jail()
    from strategies.jail import _command

    argv = _command.command(None, 1 << 20)
    tmpfs = argv.index("--tmpfs")
    binds = [i for i, a in enumerate(argv) if a == "--ro-bind" and argv[i + 1] in _command.read_only_paths()]
    assert binds and min(binds) > tmpfs
    assert jail.describe(TREND)["name"]  # and a jail starts from wherever this checkout is
