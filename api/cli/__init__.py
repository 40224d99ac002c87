"""``anvil``: the command line — run jobs here, manage data and strategies, talk to a service.

    anvil sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5
    anvil jobs submit sweep -s sma_cross --symbol SPX --space fast=5:50 slow=20:200:5

Any error ends with one line on stderr, ``anvil: error: <message>``, and exit
status 2 for a command line that cannot mean anything, 1 for everything else;
``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Sequence

from api.cli.errors import FAILURE, INTERRUPTED, USAGE, CliError, describe

__all__ = ["main"]


def _say(message: str) -> None:
    sys.stderr.write(f"anvil: error: {message}\n")
    sys.stderr.flush()


def _usage_text(exc: BaseException) -> str:
    import click

    assert isinstance(exc, click.UsageError)
    message = describe(CliError(exc.format_message()))
    ctx = exc.ctx
    if ctx is not None and not isinstance(exc, click.exceptions.NoArgsIsHelpError):
        message += f" (see '{ctx.command_path} --help')"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``anvil`` command line; returns the exit status.

    Args:
        argv: the words after ``anvil`` (default: ``sys.argv[1:]``).
    """
    import click

    from api.cli.app import cli
    from api.cli.args import expand_variadic

    words = list(sys.argv[1:] if argv is None else argv)
    cut = words.index("--") if "--" in words else len(words)
    debug = "--debug" in words[:cut] or os.environ.get("ANVIL_DEBUG", "") not in ("", "0")
    words = [w for i, w in enumerate(words) if not (w == "--debug" and i < cut)]
    from api.cli import output

    output.debug = debug
    try:
        cli.main(args=expand_variadic(words), prog_name="anvil", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code or 0)
    except click.UsageError as exc:
        if debug:
            traceback.print_exc()
        _say(_usage_text(exc))
        return USAGE
    except click.exceptions.Abort:
        _say("interrupted")
        return INTERRUPTED
    except KeyboardInterrupt:
        _say("interrupted")
        return INTERRUPTED
    except BrokenPipeError:  # `anvil ... | head`: the reader has gone, nothing more to say
        _quiet_stdout()
        return FAILURE
    except CliError as exc:
        if debug:
            traceback.print_exc()
        _say(describe(exc))
        return exc.status
    except click.ClickException as exc:  # e.g. a file option that cannot be opened
        if debug:
            traceback.print_exc()
        _say(describe(CliError(exc.format_message())))
        return FAILURE
    except Exception as exc:  # noqa: BLE001 - the CLI's last word on any failure is one line
        if debug:
            traceback.print_exc()
        _say(describe(exc))
        return FAILURE


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
