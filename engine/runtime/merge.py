"""Merging an edit made on an older copy of a record (offline, or in a tab left open) into the
record as it is now: a three-way merge of answers — the copy the edit started from (`base`), the
record now (`theirs`), the edit (`changes`: the answers the user changed, `None` for cleared).

- An answer only the user changed takes the user's value; an answer only others changed keeps
  theirs; both changed it to the same value: nothing to do; both changed it differently: a
  conflict, with both values, that the user resolves (mine / theirs). Nothing is dropped silently.
- Subform rows merge by their stable ids (`_row`): rows added on either side are all kept (others'
  first, in their order, then the user's new ones); a row deleted on either side stays deleted;
  a row kept on both sides merges cell by cell, a conflict's path naming the row
  (`services[<row id>].goal`).

The same rules run in the browser (sanad-merge.js); tests/conformance/merge.yaml holds the vectors
both must pass. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROW_ID = "_row"


@dataclass(frozen=True)
class Conflict:
    path: str  # 'field' or 'subform[<row id>].field'
    mine: Any
    theirs: Any
    base: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.path, "mine": self.mine, "theirs": self.theirs, "base": self.base}


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == []


def _same(a: Any, b: Any) -> bool:
    return (_empty(a) and _empty(b)) or a == b


def _is_rows(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(r, dict) for r in v)


def merge(
    base: dict[str, Any], theirs: dict[str, Any], changes: dict[str, Any]
) -> tuple[dict[str, Any], list[Conflict]]:
    """The values to write for the changed fields (conflicting ones left as theirs, out of the
    result), and the conflicts."""
    out: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for name, mine in changes.items():
        was, now = base.get(name), theirs.get(name)
        if _is_rows(mine) and (_is_rows(now) or _empty(now)) and (_is_rows(was) or _empty(was)):
            rows, found = merge_rows(was or [], now or [], mine, name)
            conflicts += found
            if not _same(rows, now):
                out[name] = rows
            continue
        if _same(mine, now):
            continue  # nothing to do: already so
        if _same(now, was):
            out[name] = mine  # only the user changed it
            continue
        if _same(mine, was):
            continue  # only others changed it (the user's copy had the old value)
        conflicts.append(Conflict(name, mine, now, was))
    return out, conflicts


def merge_rows(base: list[Any], theirs: list[Any], mine: list[Any], path: str) -> tuple[list[Any], list[Conflict]]:
    """Rows merged by `_row`; the conflicts of cells changed on both sides."""
    base_by = {r[ROW_ID]: r for r in base if isinstance(r, dict) and r.get(ROW_ID)}
    mine_by = {r[ROW_ID]: r for r in mine if isinstance(r, dict) and r.get(ROW_ID)}
    conflicts: list[Conflict] = []
    out: list[Any] = []
    for row in theirs:
        rid = row.get(ROW_ID) if isinstance(row, dict) else None
        if rid is None or rid not in base_by:
            out.append(row)  # added by others (or a row that never had an id): kept
            continue
        if rid not in mine_by:
            continue  # the user deleted it: it stays deleted
        cells, found = merge(base_by[rid], row, _row_changes(base_by[rid], mine_by[rid]))
        conflicts += [Conflict(f"{path}[{rid}].{c.path}", c.mine, c.theirs, c.base) for c in found]
        out.append({**row, **cells})
    theirs_ids = {r.get(ROW_ID) for r in theirs if isinstance(r, dict) and r.get(ROW_ID)}
    for row in mine:
        rid = row.get(ROW_ID) if isinstance(row, dict) else None
        if rid is None or (rid not in base_by and rid not in theirs_ids):
            out.append(row)  # added by the user (a row already there is an addition sent again)
        # a row in base and mine but not in theirs was deleted by others: it stays deleted
    return out, conflicts


def _row_changes(base_row: dict[str, Any], mine_row: dict[str, Any]) -> dict[str, Any]:
    """The cells the user changed in a row (cleared ones as None). Only the cells the user's copy
    holds count: columns they may not see are not in it, and are never cleared by it."""
    return {k: v for k, v in mine_row.items() if k != ROW_ID and not _same(v, base_row.get(k))}
