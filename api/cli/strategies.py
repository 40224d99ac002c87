"""``anvil strategies list | show | validate``: the built-in library and strategy files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from api.cli import output
from api.cli.errors import CliError, UsageError, one_line
from api.cli.options import OrderedGroup


def _param_text(name: str, p: dict[str, Any]) -> str:
    choices = p.get("choices")
    if choices and sorted(map(str, choices)) == ["False", "True"]:
        return f"{name} true|false ({output.cell('', p.get('default'))})"
    if choices:
        return f"{name} {'|'.join(map(str, choices))} ({output.cell('', p.get('default'))})"
    lo, hi = p.get("low"), p.get("high")
    bounds = f" {output.cell('', lo)}..{output.cell('', hi)}" if lo is not None and hi is not None else ""
    return f"{name}{bounds} ({output.cell('', p.get('default'))})"


def _summary_rows(described: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from strategies.library import snake_case

    rows = []
    for d in described:
        rows.append(
            {
                "name": snake_case(d["name"]) if d["name"][:1].isupper() else d["name"],
                "kind": d.get("kind", "").replace("_", " "),
                "runs on": "a universe (--symbols, --universe)" if d.get("universe") else "one series (--symbol)",
                "parameters: bounds (default)": ", ".join(
                    _param_text(k, p) for k, p in d.get("parameters", {}).items()
                ),
            }
        )
    return rows


@click.group("strategies", cls=OrderedGroup, short_help="List the built-in strategies, check a strategy file.")
def group() -> None:
    """List the built-in strategies and check strategy files before uploading them."""


@group.command("list", epilog="\b\nExamples:\n  anvil strategies list\n  anvil strategies list --json")
@click.option("--json", "as_json", is_flag=True, help="every strategy's description as JSON")
def list_(as_json: bool) -> None:
    """The built-in strategies: name, kind, what they run on (a universe of symbols or one
    series), parameters with their bounds and defaults."""
    import strategies

    described = strategies.list_strategies()
    if as_json:
        output.print_json({"count": len(described), "data": described})
        return
    output.echo(output.table(_summary_rows(described)))
    output.echo()
    output.echo("`anvil strategies show NAME` tells a strategy's rule and parameters in full.")


@group.command(
    "show", epilog="\b\nExamples:\n  anvil strategies show sma_cross\n  anvil strategies show my_strategy.py"
)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="the description as JSON")
def show(name: str, as_json: bool) -> None:
    """One strategy's rule, parameters and constraints (a built-in name or a .py file)."""
    import strategies

    cls = load_file(Path(name)) if name.endswith(".py") else strategies.get_strategy(name)
    d = cls.describe()
    if as_json:
        output.print_json(d)
        return
    from strategies.library import snake_case

    output.echo(f"{snake_case(d['name'])} ({d['name']}, {d['kind'].replace('_', ' ')})")
    if d.get("doc"):
        output.echo("")
        output.echo(d["doc"])
    rows = [
        {
            "parameter": k,
            **{f: p.get(f) for f in ("type", "default", "low", "high", "step")},
            "choices": ", ".join(map(str, p["choices"])) if p.get("choices") else "",
        }
        for k, p in d["parameters"].items()
    ]
    output.echo("")
    output.echo(output.table(rows) if rows else "no parameters")
    if d.get("constraints"):
        output.echo("constraints: " + "; ".join(d["constraints"]))


def _loader() -> Any:
    try:
        from strategies import loader
    except ImportError as exc:  # pragma: no cover - the loader ships with anvil
        raise CliError(f"this anvil has no strategy loader ({exc})") from None
    return loader


def read_source(path: Path) -> str:
    """A strategy file's text, or a one-line error."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a UTF-8 text file") from None


def check_source(loader: Any, src: str) -> tuple[bool, str | None]:
    """The loader's verdict on ``src``; a loader that fails counts as a rejection."""
    try:
        ok, error = loader.validate_strategy_code(src)
    except Exception as exc:  # noqa: BLE001 - the file is not accepted either way
        return False, f"the strategy checker failed on it ({type(exc).__name__}: {exc})"
    return bool(ok), error


def load_file(path: Path) -> Any:
    """The Strategy class a file defines, through the same safe loader the service uses."""
    loader = _loader()
    src = read_source(path)
    ok, error = check_source(loader, src)
    if not ok:
        raise CliError(f"{path}: {error}")
    try:
        return loader.load_strategy(src)
    except ValueError as exc:
        raise CliError(f"{path}: {exc}") from None


def runnable_file(path: Path, sandbox: bool = False) -> Any:
    """A strategy file as a class jobs can run anywhere.

    Your own file is your own code: it is imported as ordinary Python (any import,
    ``print``, helper classes, tracebacks naming the file and line) and travels to
    Ray workers pickled by value. ``sandbox=True`` checks and runs it the way the
    service runs an upload instead: through the safe loader, as the service's
    stand-in, which workers load through the sandbox again.
    """
    if not sandbox:
        return import_file(path)
    load_file(path)  # a clear error for a bad file
    from api.service.uploaded import stand_in

    return stand_in(read_source(path))


def import_file(path: Path) -> Any:
    """The one Strategy subclass a Python file defines, imported as ordinary Python.

    Raises:
        CliError: the file does not exist, fails while importing (the message names
            the file, line and error; --debug shows the whole traceback), or does not
            define exactly one Strategy with ``signals`` or ``on_bar``.
    """
    import hashlib
    import importlib.util
    import sys

    from strategies import Strategy

    path = path.resolve()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"anvil_user_{path.stem.replace('-', '_')}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CliError(f"{_where_failed(exc, path)}: {type(exc).__name__}: {exc}") from exc
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, Strategy)
        and v.__module__ == name
        and (callable(getattr(v, "signals", None)) or callable(getattr(v, "on_bar", None)))
    ]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise CliError(f"{path}: must define exactly one Strategy subclass with signals or on_bar (found {names})")
    return found[0]


def _where_failed(exc: BaseException, path: Path) -> str:
    """``file:line`` of the deepest frame of the traceback inside ``path`` (or the file)."""
    import traceback

    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"{path}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f"{path}:{frames[-1].lineno}" if frames else str(path)


def ship_by_value(cls: Any) -> None:
    """Let a class from a strategy file travel to Ray workers as code (they cannot import
    the file); a no-op for any other class. Call it before a job goes to Ray."""
    import sys

    module = sys.modules.get(getattr(cls, "__module__", ""))
    if module is not None and module.__name__.startswith("anvil_user_"):
        _pickle_by_value(module)


def _pickle_by_value(module: Any) -> None:
    """Ship the module's classes to Ray workers as code."""
    import importlib

    for name in ("ray.cloudpickle", "cloudpickle"):  # Ray's own copy, and the package if there is one
        try:
            importlib.import_module(name).register_pickle_by_value(module)
        except ImportError:
            continue


@group.command(
    "validate",
    epilog="\b\nExamples:\n  anvil strategies validate my_strategy.py\n"
    "  anvil backtest -s my_strategy.py --symbol SPX -p window=20",
)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--json", "as_json", is_flag=True, help="one result per file as JSON")
def validate(files: tuple[str, ...], as_json: bool) -> None:
    """Check strategy files as the service would before accepting an upload.

    The file may import only numpy, math and anvil's own strategies and engine
    names; no file, network or process access. Exits 1 if any file fails.
    """
    loader = _loader()
    results = []
    for name in files:
        src = read_source(Path(name))
        ok, error = check_source(loader, src)
        entry: dict[str, Any] = {"file": name, "ok": bool(ok), "error": error or None}
        if ok:
            try:
                cls = loader.load_strategy(src)
                entry["strategy"] = cls.describe()
            except Exception as exc:  # noqa: BLE001 - reported as the file's failure
                entry.update(ok=False, error=str(exc) or type(exc).__name__)
        results.append(entry)
    bad = [r for r in results if not r["ok"]]
    if as_json:
        output.print_json({"count": len(results), "data": results})
        if bad:
            raise CliError(f"{len(bad)} of {len(results)} files were rejected")
        return
    for r in results:
        if r["ok"]:
            s = r["strategy"]
            params = ", ".join(_param_text(k, p) for k, p in s["parameters"].items()) or "no parameters"
            output.echo(f"{r['file']}: ok, {s['name']} ({s['kind'].replace('_', ' ')}; {params})")
        elif len(results) > 1:
            output.echo(f"{r['file']}: rejected: {one_line(r['error'])}")
    if len(bad) == 1 and len(results) == 1:
        raise CliError(f"{bad[0]['file']}: {bad[0]['error']}")
    if bad:
        raise CliError(f"{len(bad)} of {len(results)} files were rejected")
