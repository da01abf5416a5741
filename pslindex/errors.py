"""User-facing errors and the one wrapper every command line uses.

A :class:`PslError` is a problem with the user's input or environment (missing file, truncated
download, wrong schema). Commands print it as one line, ``error: <message>``, and exit with
status 2; there is no traceback, because the message already says what to fix. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence


class PslError(Exception):
    """An error the user can act on; its message is one line that names the file and record."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (a zero-byte file).

    Torch's own advice to retry with ``weights_only=False`` is never passed on: that would run a
    stranger's pickle.
    """
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = lines[0].strip() if lines else type(exc).__name__
    return text.split(" (1) In PyTorch 2.6")[0].split(" Re-running `torch.load` with `weights_only`")[0]


LOGGERS = ("pslindex", "pslmodels", "build_index")  # the packages' loggers; other libraries' stay quiet


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest and callers may swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def show_logs(level: int = logging.INFO) -> None:
    """Show the packages' log records (progress notes of library code) on stderr, message only; once."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not logger.handlers:
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)


def cli_main(run: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call ``run(argv)`` and turn a :class:`PslError` or Ctrl-C into a one-line message.

    Returns the process exit status: ``run``'s own return value (0 when it returns None), 2 for a
    :class:`PslError`, 130 for an interrupt.
    """
    show_logs()
    try:
        status = run(argv)
        sys.stdout.flush()
    except PslError as exc:
        print(f"error: {str(exc) or type(exc).__name__}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("error: interrupted; nothing already built was changed", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # DuckDB turns Ctrl-C during a query into "Query interrupted"
        if "interrupted" not in str(exc).lower():
            raise
        print("error: interrupted; nothing already built was changed", file=sys.stderr)
        return 130
    return 0 if status is None else int(status)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the house's errors: one line (``error: PROG: message``), exit status 2, no usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")
