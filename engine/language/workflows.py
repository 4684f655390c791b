"""Building workflows: states, transitions and their guards, and checking the graph (every state
reachable, no dead ends but final states)."""

from __future__ import annotations

from typing import Any

from engine.diagnostics import did_you_mean
from engine.language.builder import ModuleBuilder
from engine.language.model import Guard, RecordType, State, Transition, Workflow
from engine.language.reader import stem
from engine.language.yamlfile import Path, YamlDoc


def _implied_decision(t: dict[str, Any], states: dict[str, State]) -> str | None:
    """A step out of a request (a `*_requested` stage, or `approval: true`) that does not say which
    decision it is: one that moves the record on approves, one that moves it back returns."""
    approval = bool(t.get("approval", False)) or any(s.endswith("_requested") for s in t["from"])
    to = t.get("to")
    if not approval or to not in states or not t["from"] or t["from"][0] not in states:
        return None
    order = list(states)
    return "approve" if order.index(to) > order.index(t["from"][0]) else "return"


class WorkflowsBuilder(ModuleBuilder):
    def load_workflow(self, doc: YamlDoc) -> None:
        data = doc.data
        wid = data["id"]
        if wid != stem(doc.file):
            self.report.add(
                doc.at(("id",)),
                "ref.id-mismatch",
                f"the workflow id '{wid}' differs from its file name",
                f"rename the file to {wid}.yaml or the id to '{stem(doc.file)}'",
            )
        if wid in self.workflows:
            first = self.workflows[wid].pos
            self.report.add(
                doc.at(("id",)),
                "ref.duplicate-id",
                f"the workflow '{wid}' is already defined in {self.rel(first.file)}:{first.line}",
            )
            return
        states: dict[str, State] = {}
        for i, s in enumerate(data["states"]):
            if s["id"] in states:
                self.report.add(
                    doc.at(("states", i, "id")), "ref.duplicate-id", f"the state '{s['id']}' is defined twice"
                )
                continue
            self.label(doc, ("states", i, "label"), s["label"])
            states[s["id"]] = State(
                s["id"],
                s["label"],
                bool(s.get("final", False)),
                doc.at(("states", i, "id")),
                tuple(s.get("locked_forms", ())),
            )
        wf = Workflow(wid, data["record_type"], data["initial"], states, {}, doc.at(("id",)))
        self.workflows[wid] = wf

        def state_ref(value: str, path: Path) -> bool:
            if value in states:
                return True
            self.report.add(
                doc.at(path),
                "ref.unknown-state",
                f"the workflow '{wid}' has no state '{value}'",
                did_you_mean(value, states) or f"the states are: {', '.join(states)}",
            )
            return False

        state_ref(wf.initial, ("initial",))
        rt = self.record_types.get(wf.record_type)
        for i, s in enumerate(data["states"]):
            for j, fid in enumerate(s.get("locked_forms", ())):
                self.form_ref(fid, wf, rt, doc, ("states", i, "locked_forms", j))
        if rt is None:
            self.report.add(
                doc.at(("record_type",)),
                "ref.unknown-record-type",
                f"the record type '{wf.record_type}' is not defined in module.yaml",
                did_you_mean(wf.record_type, self.record_types),
            )
        for i, t in enumerate(data["transitions"]):
            tpath: Path = ("transitions", i)
            if t["id"] in wf.transitions:
                self.report.add(
                    doc.at((*tpath, "id")), "ref.duplicate-id", f"the transition '{t['id']}' is defined twice"
                )
                continue
            self.label(doc, (*tpath, "label"), t["label"])
            for j, s in enumerate(t["from"]):
                state_ref(s, (*tpath, "from", j))
            if "to" in t:
                state_ref(t["to"], (*tpath, "to"))
            tr = Transition(
                t["id"],
                t["label"],
                tuple(t["from"]),
                t.get("to"),
                tuple(t["roles"]),
                doc.at((*tpath, "id")),
                requires_forms=tuple(t.get("requires_forms", ())),
                approval=bool(t.get("approval", False)) or any(s.endswith("_requested") for s in t["from"]),
                referral=bool(t.get("referral", False)),
                comment=t.get("comment", "optional"),
                decision=t.get("decision") or _implied_decision(t, states),
                confirm=bool(t["confirm"]) if "confirm" in t else t.get("to") in states and states[t["to"]].final,
                organisation_from=t.get("organisation_from"),
            )
            if tr.organisation_from is not None:
                self.organisation_field(tr, rt, doc, tpath)
            if tr.decision is not None and tr.to is None:
                self.report.add(
                    doc.at((*tpath, "decision"), key=True),
                    "workflow.decision-without-stage",
                    f"the transition '{tr.id}' is a decision ('{tr.decision}') but moves the record nowhere",
                    "a decision approves or returns a request: give it 'to:' the stage the record goes to",
                )
            if not tr.roles:
                self.report.add(
                    doc.at((*tpath, "roles")),
                    "workflow.no-roles",
                    f"no role may take the transition '{tr.id}'",
                    "list the roles that may take it",
                )
            for j, fid in enumerate(tr.requires_forms):
                self.form_ref(fid, wf, rt, doc, (*tpath, "requires_forms", j))
            if rt is not None:
                tr.guards = tuple(self.guards(t, doc, tpath, rt))
            wf.transitions[tr.id] = tr
            self.transition_docs[id(tr)] = (doc, tpath)
        self.check_graph(wf, doc)

    def organisation_field(self, tr: Transition, rt: RecordType | None, doc: YamlDoc, tpath: Path) -> None:
        """`organisation_from` names a top-level text or single-choice field of the record type, on a referral."""
        name = tr.organisation_from
        where = doc.at((*tpath, "organisation_from"))
        if not tr.referral:
            self.report.add(
                where,
                "field.key-not-allowed",
                f"'organisation_from' applies to a referral, and '{tr.id}' is not one",
                "add 'referral: true', or remove organisation_from",
            )
        if rt is None or name is None:
            return
        f = rt.scope.fields.get(name)
        if f is None or f.type not in ("text", "select_one"):
            self.report.add(
                where,
                "ref.unknown-field",
                f"the record type '{rt.id}' has no top-level text or single-choice field '{name}'",
                did_you_mean(name, rt.scope.fields) or "name the field that records the organisation",
            )

    def form_ref(self, fid: str, wf: Workflow, rt: RecordType | None, doc: YamlDoc, path: Path) -> None:
        """Report `fid` unless it is a form of the workflow's record type ('*' in locked_forms: all)."""
        if fid == "*" and path[-2] == "locked_forms":
            return
        form = self.forms.get(fid)
        if (form is None and not self.is_broken("form", fid)) or (
            form is not None and form.record_type != wf.record_type
        ):
            self.report.add(
                doc.at(path),
                "ref.unknown-form",
                f"the record type '{wf.record_type}' has no form '{fid}'",
                did_you_mean(fid, rt.form_ids if rt else self.forms),
            )

    def guards(self, t: dict[str, Any], doc: YamlDoc, tpath: Path, rt: RecordType) -> list[Guard]:
        specs: list[tuple[Path, dict[str, Any]]] = []
        if "when" in t:
            specs.append(((*tpath, "when"), {"when": t["when"], "message": t.get("when_message")}))
        specs.extend(((*tpath, "guards", i, "when"), g) for i, g in enumerate(t.get("guards", ())))
        out = []
        for when_path, g in specs:
            expr = self.expr(g["when"], doc, when_path, "when", rt.scope, rt)
            override = g.get("override")
            if override is not None and override not in self.known_permissions():
                self.report.add(
                    doc.at((*when_path[:-1], "override")),
                    "ref.unknown-permission",
                    f"'{override}' is not a permission Sanad knows",
                    did_you_mean(override, self.known_permissions()) or "for consent, use consent_override",
                )
            if expr is not None:
                key = "when_message" if when_path[-1] == "when" and len(when_path) == len(tpath) + 1 else None
                where = "/".join(str(p) for p in when_path[len(tpath) : -1])
                suffix = key or f"{where}/message"
                path = f"workflows/{doc.data['id']}/transitions/{t['id']}/{suffix}"
                out.append(Guard(expr, g.get("message"), override, path))
        return out

    def check_graph(self, wf: Workflow, doc: YamlDoc) -> None:
        if wf.initial not in wf.states:
            return
        reached = {wf.initial}
        frontier = [wf.initial]
        while frontier:
            current = frontier.pop()
            for t in wf.transitions.values():
                if current in t.from_states and t.to in wf.states and t.to not in reached:
                    reached.add(t.to)
                    frontier.append(t.to)
        for s in wf.states.values():
            if s.id not in reached:
                self.report.add(
                    s.pos,
                    "workflow.unreachable-state",
                    f"no transition leads to the state '{s.id}' from the initial state '{wf.initial}'",
                    "add a transition to it, or remove the state",
                )
            elif not s.final and not any(s.id in t.from_states and t.to is not None for t in wf.transitions.values()):
                self.report.add(
                    s.pos,
                    "workflow.dead-end",
                    f"the state '{s.id}' is not final but has no way out",
                    "add a transition from it, or mark it 'final: true'",
                )

    def link_workflows(self, module_doc: YamlDoc) -> None:
        for rt in self.record_types.values():
            if rt.workflow_id is not None:
                wf = self.workflows.get(rt.workflow_id)
                path = ("record_types", rt.id, "workflow")
                if wf is None and not self.is_broken("workflow", rt.workflow_id):
                    self.report.add(
                        module_doc.at(path),
                        "ref.unknown-workflow",
                        f"there is no workflow '{rt.workflow_id}'",
                        did_you_mean(rt.workflow_id, self.workflows) or f"add workflows/{rt.workflow_id}.yaml",
                    )
                elif wf is not None and wf.record_type != rt.id:
                    self.report.add(
                        module_doc.at(path),
                        "workflow.record-type",
                        f"the workflow '{wf.id}' is for the record type '{wf.record_type}', not '{rt.id}'",
                    )
