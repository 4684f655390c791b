"""Building roles (scope, permissions, forms, sensitivity), and the checks that need every role:
the roles named by transitions, and option lists no field uses."""

from __future__ import annotations

from engine.diagnostics import did_you_mean
from engine.language.builder import ModuleBuilder
from engine.language.model import Role
from engine.language.yamlfile import Path, YamlDoc


class RolesBuilder(ModuleBuilder):
    def load_roles(self, doc: YamlDoc) -> None:
        known = self.known_permissions()
        for i, r in enumerate(doc.data["roles"]):
            rpath: Path = ("roles", i)
            if r["id"] in self.roles:
                self.report.add(doc.at((*rpath, "id")), "ref.duplicate-id", f"the role '{r['id']}' is defined twice")
                continue
            self.label(doc, (*rpath, "label"), r["label"])
            for j, p in enumerate(r["permissions"]):
                if p not in known:
                    self.report.add(
                        doc.at((*rpath, "permissions", j)),
                        "ref.unknown-permission",
                        f"'{p}' is not a permission Sanad knows",
                        "emergency access is a key of the role: write 'emergency_access: true'"
                        if p == "emergency_access"
                        else did_you_mean(p, known) or "see the permission list in docs/definitions.md",
                    )
            for mode in ("read", "write"):
                for j, fid in enumerate(r["forms"][mode]):
                    if fid != "*" and fid not in self.forms and not self.is_broken("form", fid):
                        self.report.add(
                            doc.at((*rpath, "forms", mode, j)),
                            "ref.unknown-form",
                            f"there is no form '{fid}'",
                            did_you_mean(fid, self.forms),
                        )
            self.roles[r["id"]] = Role(
                r["id"],
                r["label"],
                r["scope"],
                frozenset(r["permissions"]),
                frozenset(r["forms"]["read"]),
                frozenset(r["forms"]["write"]),
                frozenset(r["sensitivity"]),
                bool(r.get("aggregate_only", False)),
                doc.at((*rpath, "id")),
                emergency_access=bool(r.get("emergency_access", False)),
                second_factor_required=r.get("second_factor", "optional") == "required",
            )

    def finish_roles(self) -> None:
        for wf in self.workflows.values():
            for t in wf.transitions.values():
                doc, tpath = self.transition_docs[id(t)]
                for j, role in enumerate(t.roles):
                    if role not in self.roles and self.roles:
                        self.report.add(
                            doc.at((*tpath, "roles", j)),
                            "ref.unknown-role",
                            f"the transition '{t.id}' names the role '{role}', which roles.yaml does not define",
                            did_you_mean(role, self.roles),
                        )
        forms_broken = any(kind == "form" for kind, _ in self.broken)
        for lid, lk in self.lookups.items():
            if lid not in self.used_lookups and not forms_broken:  # a broken form may be the user
                self.report.add(
                    lk.pos,
                    "ref.unused-lookup",
                    f"no field uses the lookup '{lid}'",
                    "remove the file, or use it in a field's choices",
                )
