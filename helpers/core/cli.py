"""The shared entry-point guard of the project's commands: every way a run can end is one line.

    if __name__ == "__main__":
        sys.exit(cli.guard(main, interrupted="Run the same command again to resume."))

Ctrl-C, ``OSError`` (disk full, permission, a file where a folder should be) and the project's own errors
become one ``error:`` line on stderr with what was kept and what to do; ``--debug`` on the command line or
``RNN_MNIST_DEBUG=1`` in the environment shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

#: Environment variable that asks every command for full tracebacks.
DEBUG_ENV_VAR = "RNN_MNIST_DEBUG"
#: Exit status of a command interrupted by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130
#: Exit status of a refused or failed command.
ERROR_STATUS = 2


def debugging(argv: list[str] | None = None) -> bool:
    """Whether tracebacks were asked for (``--debug`` in ``argv`` or :data:`DEBUG_ENV_VAR` set)."""
    argv = sys.argv[1:] if argv is None else argv
    return "--debug" in argv or os.environ.get(DEBUG_ENV_VAR, "") not in ("", "0")


def project_errors() -> tuple[type[BaseException], ...]:
    """The errors whose message is written for the user: workspace, MNIST, missing weights, input checks."""
    from helpers.core.data import MnistFileError
    from helpers.core.workspace import WorkspaceError
    from helpers.core.zoo import ModelNotTrainedError

    return WorkspaceError, MnistFileError, ModelNotTrainedError, ValueError, FloatingPointError


def describe_os_error(err: OSError) -> str:
    """``OSError`` as one line: the file, the reason, and what to do."""
    where = err.filename or "a file"
    reason = err.strerror or str(err) or type(err).__name__
    return f"{where}: {reason}. Free some space or fix the folder's permissions, then run the command again."


def guard(main, argv: list[str] | None = None, interrupted: str = "Nothing was kept from this run.",
          kept: str = "") -> int:
    """Run ``main(argv)`` and return its exit status; interrupts and errors end in one line (see module doc)."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = debugging(args)
    args = [a for a in args if a != "--debug"]
    try:
        return main(args)
    except KeyboardInterrupt as err:
        if debug:
            traceback.print_exc()
        else:  # tasks the interrupt left pending (nbclient's cell execution) would log tracebacks at exit
            logging.getLogger("asyncio").disabled = True
        said = f": {err}" if str(err) else ""
        print(f"\nInterrupted{said}. {interrupted}", file=sys.stderr, flush=True)
        return INTERRUPTED_STATUS
    except project_errors() as err:
        if debug:
            raise
        print(f"error: {_one_line(err)}{' ' + kept if kept else ''}", file=sys.stderr, flush=True)
        return ERROR_STATUS
    except OSError as err:
        if debug:
            raise
        print(f"error: {describe_os_error(err)}{' ' + kept if kept else ''}", file=sys.stderr, flush=True)
        return ERROR_STATUS


def _one_line(err: BaseException) -> str:
    """The error's message on one line (its first line when it has several)."""
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
