"""Country overlays: a module that `extends:` another and changes it in its own files.

The overlay's files are merged into the base module's *documents* before anything is built, so
the merged module is checked exactly as if it had been written by hand. Every merged document
remembers where each part came from (`YamlDoc.origins`), so a finding points at the overlay's
line when the overlay wrote it, and at the base file when the base did.

A file in an overlay either defines something whole (a form with `fields`, a lookup with
`choices`, a workflow with `states`/`transitions`), which adds it or replaces the base's one with
the same id, or it patches the base's one: `add_fields`, `hide_fields`, `change_fields`;
`add_choices`, `remove_choices`; `add_states`, `change_states`, `add_transitions`,
`change_transitions`, `remove_transitions`; `roles`, `change_roles`, `remove_roles`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine.diagnostics import Report, did_you_mean
from engine.language.yamlfile import Path, YamlDoc

Source = tuple[YamlDoc, Path]


@dataclass
class Item:
    """One entry of a list being merged (a field, choice, state, transition or role)."""

    data: dict[str, Any]
    src: Source
    key_src: dict[str, Source] = field(default_factory=dict)
    children: list[Item] | None = None  # a subform's fields


def _items(doc: YamlDoc, path: Path, entries: list[Any], nested: str | None = None) -> list[Item]:
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        data = {k: v for k, v in entry.items() if k != nested}
        children = None
        if nested is not None and isinstance(entry.get(nested), list):
            children = _items(doc, (*path, i, nested), entry[nested], nested)
        out.append(Item(data, (doc, (*path, i)), {}, children))
    return out


def _emit(items: list[Item], path: Path, origins: dict[Path, Source], nested: str | None = None) -> list[Any]:
    out = []
    for i, it in enumerate(items):
        p = (*path, i)
        origins[p] = it.src
        for key, src in it.key_src.items():
            origins[(*p, key)] = src
        data = dict(it.data)
        if it.children is not None and nested is not None:
            data[nested] = _emit(it.children, (*p, nested), origins, nested)
        out.append(data)
    return out


def _find(items: list[Item], ident: str, key: str = "id") -> tuple[list[Item], int] | None:
    for i, it in enumerate(items):
        if it.data.get(key) == ident:
            return items, i
        if it.children is not None and (found := _find(it.children, ident, key)) is not None:
            return found
    return None


def _all_ids(items: list[Item], key: str = "id") -> list[str]:
    out: list[str] = []
    for it in items:
        if isinstance(it.data.get(key), str):
            out.append(it.data[key])
        if it.children is not None:
            out.extend(_all_ids(it.children, key))
    return out


def _listing(what: str, candidates: list[str]) -> str | None:
    if not candidates:
        return None
    if what == "scenario":
        return f"the base has {len(candidates)} scenarios; 'sanad test -v <base module>' lists them"
    if sum(len(c) for c in candidates) > 300:
        return f"the base has {len(candidates)} {what}s, e.g. {', '.join(candidates[:5])}"
    return f"the {what}s are: {', '.join(candidates)}"


def _merged(base: YamlDoc, data: dict[str, Any], origins: dict[Path, Source]) -> YamlDoc:
    origins.setdefault((), (base, ()))
    return YamlDoc(file=base.file, data=data, origins=origins)


class Merger:
    def __init__(self, report: Report) -> None:
        self.report = report

    def unknown(self, doc: YamlDoc, path: Path, what: str, name: str, candidates: list[str], key: bool = False) -> None:
        self.report.add(
            doc.at(path, key=key),
            "overlay.unknown-target",
            f"the base module has no {what} '{name}' to change",
            did_you_mean(name, candidates) or _listing(what, candidates),
        )

    @staticmethod
    def _replace_keys(data: dict[str, Any], origins: dict[Path, Source], patch: YamlDoc, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in patch.data:
                if patch.data[key] is None:
                    data.pop(key, None)
                else:
                    data[key] = copy.deepcopy(patch.data[key])
                    origins[(key,)] = (patch, (key,))

    @staticmethod
    def _change(item: Item, changes: dict[str, Any], patch: YamlDoc, path: Path) -> None:
        for key, value in changes.items():
            if value is None:
                item.data.pop(key, None)
                item.key_src.pop(key, None)
            else:
                item.data[key] = copy.deepcopy(value)
                item.key_src[key] = (patch, (*path, key))

    # -- module.yaml ----------------------------------------------------------------------------
    def module(self, base: YamlDoc, over: YamlDoc) -> YamlDoc:
        data = {k: copy.deepcopy(v) for k, v in base.data.items() if k not in ("extends", "replaces_scenarios")}
        origins: dict[Path, Source] = {}
        for key in ("id", "title", "version", "description", "default_locale", "locales"):
            if key in over.data:
                data[key] = copy.deepcopy(over.data[key])
                origins[(key,)] = (over, (key,))
        for name, value in (over.data.get("settings") or {}).items():  # each setting replaced on its own
            data.setdefault("settings", {})[name] = copy.deepcopy(value)
            origins[("settings", name)] = (over, ("settings", name))
        for rt_id, rt in (over.data.get("record_types") or {}).items():
            target = data.setdefault("record_types", {})
            if rt_id not in target:
                target[rt_id] = copy.deepcopy(rt)
                origins[("record_types", rt_id)] = (over, ("record_types", rt_id))
                continue
            for key, value in rt.items():
                target[rt_id][key] = copy.deepcopy(value)
                origins[("record_types", rt_id, key)] = (over, ("record_types", rt_id, key))
        return _merged(base, data, origins)

    # -- lookups --------------------------------------------------------------------------------
    def lookup(self, base: YamlDoc, patch: YamlDoc) -> YamlDoc:
        data = {k: copy.deepcopy(v) for k, v in base.data.items() if k != "choices"}
        origins: dict[Path, Source] = {}
        self._replace_keys(data, origins, patch, ("title", "description"))
        items = _items(base, ("choices",), base.data.get("choices") or [])
        for i, choice in enumerate(patch.data.get("add_choices") or []):
            new = Item(copy.deepcopy(choice), (patch, ("add_choices", i)))
            found = _find(items, choice.get("value"), "value")
            if found is not None:
                found[0][found[1]] = new
            else:
                items.append(new)
        for i, value in enumerate(patch.data.get("remove_choices") or []):
            found = _find(items, value, "value")
            if found is None:
                self.unknown(patch, ("remove_choices", i), "choice", value, _all_ids(items, "value"))
            else:
                del found[0][found[1]]
        data["choices"] = _emit(items, ("choices",), origins)
        return _merged(base, data, origins)

    # -- forms ----------------------------------------------------------------------------------
    def form(self, base: YamlDoc, patch: YamlDoc) -> YamlDoc:
        data = {k: copy.deepcopy(v) for k, v in base.data.items() if k != "fields"}
        origins: dict[Path, Source] = {}
        self._replace_keys(data, origins, patch, ("title", "description", "relevant"))
        items = _items(base, ("fields",), base.data.get("fields") or [], "fields")
        for a, ins in enumerate(patch.data.get("add_fields") or []):
            new = _items(patch, ("add_fields", a, "fields"), ins["fields"], "fields")
            anchor_key = "after" if "after" in ins else "before" if "before" in ins else None
            if anchor_key is not None:
                found = _find(items, ins[anchor_key])
                if found is None:
                    self.unknown(patch, ("add_fields", a, anchor_key), "field", ins[anchor_key], _all_ids(items))
                    continue
                target, index = found
                index += 1 if anchor_key == "after" else 0
            else:
                target = items
                if "in" in ins:
                    found = _find(items, ins["in"])
                    sub = found[0][found[1]] if found else None
                    if sub is None or sub.children is None:
                        subforms = [
                            i for i in _all_ids(items) if (f := _find(items, i)) and f[0][f[1]].children is not None
                        ]
                        self.unknown(patch, ("add_fields", a, "in"), "subform", ins["in"], subforms)
                        continue
                    target = sub.children
                index = 0 if ins.get("at") == "start" else len(target)
            target[index:index] = new
        for h, ident in enumerate(patch.data.get("hide_fields") or []):
            found = _find(items, ident)
            if found is None:
                self.unknown(patch, ("hide_fields", h), "field", ident, _all_ids(items))
                continue
            item = found[0][found[1]]
            item.data["relevant"] = "false"
            item.key_src["relevant"] = (patch, ("hide_fields", h))
        for ident, changes in (patch.data.get("change_fields") or {}).items():
            found = _find(items, ident)
            if found is None:
                self.unknown(patch, ("change_fields", ident), "field", ident, _all_ids(items), key=True)
                continue
            self._change(found[0][found[1]], changes, patch, ("change_fields", ident))
        data["fields"] = _emit(items, ("fields",), origins, "fields")
        return _merged(base, data, origins)

    # -- workflows ------------------------------------------------------------------------------
    def workflow(self, base: YamlDoc, patch: YamlDoc) -> YamlDoc:
        data = {k: copy.deepcopy(v) for k, v in base.data.items() if k not in ("states", "transitions")}
        origins: dict[Path, Source] = {}
        self._replace_keys(data, origins, patch, ("title", "initial"))
        states = _items(base, ("states",), base.data.get("states") or [])
        transitions = _items(base, ("transitions",), base.data.get("transitions") or [])
        for i, state in enumerate(patch.data.get("add_states") or []):
            states.append(Item(copy.deepcopy(state), (patch, ("add_states", i))))
        for ident, changes in (patch.data.get("change_states") or {}).items():
            found = _find(states, ident)
            if found is None:
                self.unknown(patch, ("change_states", ident), "state", ident, _all_ids(states), key=True)
            else:
                self._change(found[0][found[1]], changes, patch, ("change_states", ident))
        for i, ident in enumerate(patch.data.get("remove_transitions") or []):
            found = _find(transitions, ident)
            if found is None:
                self.unknown(patch, ("remove_transitions", i), "transition", ident, _all_ids(transitions))
            else:
                del found[0][found[1]]
        for ident, changes in (patch.data.get("change_transitions") or {}).items():
            found = _find(transitions, ident)
            if found is None:
                self.unknown(patch, ("change_transitions", ident), "transition", ident, _all_ids(transitions), key=True)
            else:
                self._change(found[0][found[1]], changes, patch, ("change_transitions", ident))
        for i, tr in enumerate(patch.data.get("add_transitions") or []):
            transitions.append(Item(copy.deepcopy(tr), (patch, ("add_transitions", i))))
        data["states"] = _emit(states, ("states",), origins)
        data["transitions"] = _emit(transitions, ("transitions",), origins)
        return _merged(base, data, origins)

    # -- roles ----------------------------------------------------------------------------------
    def roles(self, base: YamlDoc | None, patch: YamlDoc) -> YamlDoc:
        items = _items(base, ("roles",), base.data.get("roles") or []) if base is not None else []
        origins: dict[Path, Source] = {}
        for i, ident in enumerate(patch.data.get("remove_roles") or []):
            found = _find(items, ident)
            if found is None:
                self.unknown(patch, ("remove_roles", i), "role", ident, _all_ids(items))
            else:
                del found[0][found[1]]
        for ident, changes in (patch.data.get("change_roles") or {}).items():
            found = _find(items, ident)
            if found is None:
                self.unknown(patch, ("change_roles", ident), "role", ident, _all_ids(items), key=True)
                continue
            item = found[0][found[1]]
            rest = {k: v for k, v in changes.items() if k not in ("add_permissions", "remove_permissions")}
            self._change(item, rest, patch, ("change_roles", ident))
            perms = list(item.data.get("permissions") or [])
            for j, p in enumerate(changes.get("remove_permissions") or []):
                if p in perms:
                    perms.remove(p)
                else:
                    self.unknown(patch, ("change_roles", ident, "remove_permissions", j), "permission", p, perms)
            perms.extend(p for p in changes.get("add_permissions") or [] if p not in perms)
            if "add_permissions" in changes or "remove_permissions" in changes:
                item.data["permissions"] = perms
                key = "add_permissions" if "add_permissions" in changes else "remove_permissions"
                item.key_src["permissions"] = (patch, ("change_roles", ident, key))
        for i, role in enumerate(patch.data.get("roles") or []):
            new = Item(copy.deepcopy(role), (patch, ("roles", i)))
            found = _find(items, role.get("id"))
            if found is not None:
                found[0][found[1]] = new
            else:
                items.append(new)
        data = {"roles": _emit(items, ("roles",), origins)}
        return _merged(base if base is not None else patch, data, origins)
