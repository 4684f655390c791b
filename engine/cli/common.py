"""What the command groups share: user-facing errors, opening the database, loading the definitions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from engine.language import packaged
from engine.runtime.registry import DefinitionsError, Registry
from engine.service.database import Database, DatabaseUnavailable, resolve_url


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def whole_number(what: str, most: int, said: str = "") -> Callable[[str], int]:
    """An option's type: a whole number of `what` from 1 to `most` (`said` tells what `most` is)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if not 1 <= n <= most:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a number of {what}: give a whole number from 1 to {most}{said}"
            )
        return n

    return parse


def say(message: str) -> None:
    """A progress or status line for the person at the terminal (stderr, so stdout stays data)."""
    print(f"sanad: {message}", file=sys.stderr)


def database(args: argparse.Namespace, *, create: bool = False) -> Database:
    """The database of --db (or the default), ready to use; set up when new and `create`."""
    try:
        db = Database.open(resolve_url(args.db), getattr(args, "key_file", None))
    except DatabaseUnavailable as exc:  # a setting of the environment that cannot be used
        raise CliError(str(exc)) from None
    try:
        db.ready(create=create, announce=say)
    except DatabaseUnavailable as exc:
        db.dispose()
        raise CliError(str(exc)) from None
    return db


def definition_paths(args: argparse.Namespace) -> list[str]:
    """--definitions, else the reference module shipped with Sanad."""
    return list(args.definitions or [packaged.reference_module()])


def registry(args: argparse.Namespace) -> Registry:
    try:
        return Registry.load(definition_paths(args))
    except DefinitionsError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        raise CliError("the definitions have errors; the server was not started") from None


def data_options(p: argparse.ArgumentParser) -> None:
    """--definitions and --db: every data command takes both, so several deployments can be driven
    from one shell."""
    p.add_argument(
        "--definitions",
        action="append",
        metavar="PATH",
        help="a module folder (repeatable; default: the GBV reference module shipped with Sanad); "
        "users list marks roles it does not define",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $SANAD_DATABASE_URL, then a SQLite file in the data folder, $SANAD_DATA_DIR)",
    )
    p.add_argument(
        "--key-file",
        metavar="PATH",
        help="the key file that seals identifying answers (default: $SANAD_KEY_FILE, then sanad.key in the "
        "data folder; made on first use). Keep it apart from the database and its backups",
    )
