"""The `sanad` command line, one module per command group: definitions (validate, test, compile,
show, schema), server (serve), data (db, users, audit) and i18n."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from engine import __version__
from engine.cli import (
    backup,
    data,
    definitions,
    exports,
    i18n,
    protection,
    reports,
    seed,
    server,
    xlsform,
    xlsform_export,
)
from engine.cli.common import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sanad",
        description="Sanad: declarative forms and workflows for humanitarian case management.",
    )
    parser.add_argument("--version", action="version", version=f"sanad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    definitions.add_commands(sub)
    i18n.add_commands(sub)
    server.add_commands(sub)
    data.add_commands(sub)
    backup.add_commands(sub)
    protection.add_commands(sub)
    reports.add_commands(sub)
    exports.add_commands(sub)
    xlsform.add_commands(sub)
    xlsform_export.add_commands(sub)
    seed.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except CliError as exc:
        print(f"sanad: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in Sanad, not in the definitions: say so, briefly
        if os.environ.get("SANAD_DEBUG"):
            raise
        print(
            f"sanad: internal error ({type(exc).__name__}: {exc}). This is a bug in Sanad, not in your files; "
            "please report it with the command you ran. Set SANAD_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        return 3
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
