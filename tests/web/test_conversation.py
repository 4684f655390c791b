"""The workflow conversation and what the pages say, without a browser (issue 11): comments shown
and required, decisions primary, forms locked while they wait for approval, the supervisor's queue
over every record type, the assignment picker, confirmation of final steps, form states, the
history, and sizes refused with the app's own page. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BASE_FILES, MakeModule
from tests.server import PASSWORD, Server, server

MODULE = {
    "module.yaml": """
        id: mini
        title: Mini module
        version: '1'
        default_locale: en
        locales: [en, fr, ar]
        record_types:
          case:
            title: Case
            forms: [intake, plan]
            workflow: case_flow
          incident:
            title: Incident
            forms: [report]
            workflow: incident_flow
    """,
    "roles.yaml": """
        roles:
          - id: caseworker
            label: Caseworker
            scope: own
            permissions: [case.create, case.read, case.write, incident.create, incident.read, incident.write]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
          - id: supervisor
            label: Supervisor
            scope: group
            permissions: [case.read, case.assign, incident.read]
            forms: {read: ['*'], write: []}
            sensitivity: [quasi, none]
    """,
    "forms/intake.yaml": BASE_FILES["forms/intake.yaml"]
    + """
          - id: name
            type: text
            label: Name
            sensitivity: direct
          - id: household
            type: section
            label: The household
            relevant: ${consent} = 'yes'
            fields:
              - id: household_size
                type: integer
                label: People in the household
    """,
    "forms/report.yaml": """
        id: report
        title: Report
        record_type: incident
        fields:
          - {id: what, type: text, label: What happened, required: true}
    """,
    "workflows/case_flow.yaml": """
        id: case_flow
        record_type: case
        initial: open
        states:
          - {id: open, label: Open}
          - {id: plan_requested, label: Plan approval requested, locked_forms: [plan]}
          - {id: active, label: Active}
          - {id: closed, label: Closed, final: true}
        transitions:
          - {id: request_plan, label: Request plan approval, from: [open], to: plan_requested,
             roles: [caseworker], requires_forms: [intake, plan]}
          - {id: approve_plan, label: Approve plan, from: [plan_requested], to: active, roles: [supervisor],
             decision: approve}
          - {id: reject_plan, label: Send the plan back, from: [plan_requested], to: open, roles: [supervisor],
             decision: return, comment: required}
          - {id: close, label: Close the case, from: [active], to: closed, roles: [caseworker]}
    """,
    "workflows/incident_flow.yaml": """
        id: incident_flow
        record_type: incident
        initial: draft
        states:
          - {id: draft, label: Draft}
          - {id: submitted, label: Waiting for review}
          - {id: reviewed, label: Reviewed, final: true}
        transitions:
          - {id: submit, label: Submit for review, from: [draft], to: submitted, roles: [caseworker]}
          - {id: confirm_review, label: Confirm the review, from: [submitted], to: reviewed, roles: [supervisor],
             approval: true, decision: approve}
          - {id: send_back, label: Send back for corrections, from: [submitted], to: draft, roles: [supervisor],
             approval: true, decision: return, comment: required}
    """,
}
READY = {"sex": "female", "consent": "yes", "dob": "1990-01-01", "name": "Amal", "goal": "Safe housing"}


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    with server(db_url, [make_module(MODULE)]) as s:
        s.add_user("amina", "caseworker", full_name="Amina K.")
        s.add_user("bilal", "caseworker")
        s.add_user("cora", "caseworker", full_name="Cora M.")
        s.add_user("sam", "supervisor")
        s.add_user("far", "caseworker", agency="agency_b", groups=("team_9",))
        yield s


def pages(srv: Server, name: str) -> Any:
    c = srv.client()
    r = c.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
    assert r.status_code == 200, r.text[:300]
    return c


def requested(srv: Server, comment: str | None = "Plan agreed with the survivor.") -> str:
    """A case whose plan waits for the supervisor's approval; its id."""
    a = srv.client("amina")
    rec = a.post("/api/v1/records/case", json={"data": READY}).json()
    r = a.post(f"/api/v1/records/case/{rec['id']}/transitions/request_plan", json={"comment": comment})
    assert r.status_code == 200, r.text
    return str(rec["id"])


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- 1. comments are shown ---------------------------------------------------------------------
def test_the_request_and_the_decision_are_shown_with_who_when_and_why(srv: Server) -> None:
    rid = requested(srv)
    sam = pages(srv, "sam")
    page = text_of(sam.get(f"/records/case/{rid}").text)
    assert "Request: Request plan approval" in page
    assert "by amina" in page and "Plan agreed with the survivor." in page
    r = sam.post(f"/records/case/{rid}/transitions/reject_plan", data={"comment": "Add a safety goal, please."})
    assert r.status_code == 200
    amina = pages(srv, "amina")
    page = text_of(amina.get(f"/records/case/{rid}").text)
    assert "Latest decision: Send the plan back" in page and "by sam" in page
    assert "Add a safety goal, please." in page
    # every step's comment is in the history, with the step's name
    assert page.count("Plan agreed with the survivor.") == 1  # in the history (the latest box shows the decision)
    history = page[page.index("History") :]
    assert "Send the plan back" in history and "Add a safety goal, please." in history
    assert "Request plan approval" in history
    # the caseworker's home lists it as returned, with the reason
    home = text_of(amina.get("/").text)
    assert "Returned to you" in home and "Add a safety goal, please." in home and "by sam" in home
    # once it moves on, it is no longer "returned"
    srv.client("amina").post(f"/api/v1/records/case/{rid}/transitions/request_plan", json={})
    assert "Returned to you" not in text_of(amina.get("/").text)


# -- 2. the decision panel ---------------------------------------------------------------------
def test_one_comment_box_the_approving_step_primary_and_a_required_comment(srv: Server) -> None:
    rid = requested(srv)
    sam = pages(srv, "sam")
    html = sam.get(f"/records/case/{rid}").text
    panel = html[html.index('id="decide"') : html.index("</form>", html.index('id="decide"'))]
    assert panel.count("<textarea") == 1
    approve = re.search(r'<button[^>]*data-step="approve_plan"[^>]*>', panel)
    back = re.search(r'<button[^>]*data-step="reject_plan"[^>]*>', panel)
    assert approve and 'class="primary"' in approve.group(0)
    assert back and 'class="secondary"' in back.group(0)
    assert "A comment is required for: Send the plan back." in text_of(panel)
    # without a comment the step is refused, by the pages and by the API alike
    r = sam.post(f"/records/case/{rid}/transitions/reject_plan", data={"comment": "  "})
    assert "needs a comment" in text_of(r.text)
    api = srv.client("sam").post(f"/api/v1/records/case/{rid}/transitions/reject_plan", json={})
    assert api.status_code == 422 and api.json()["errors"][0]["field"] == "comment"
    assert srv.client("sam").get(f"/api/v1/records/case/{rid}").json()["stage"] == "plan_requested"


def test_a_step_to_a_final_stage_asks_for_confirmation(srv: Server) -> None:
    rid = requested(srv)
    srv.client("sam").post(f"/api/v1/records/case/{rid}/transitions/approve_plan", json={})
    amina = pages(srv, "amina")
    r = amina.post(f"/records/case/{rid}/transitions/close", data={"comment": "All goals met."})
    page = text_of(r.text)
    assert r.status_code == 200 and "Please confirm: Close the case" in page
    assert "This is a final step" in page and "All goals met." in r.text
    assert srv.client("amina").get(f"/api/v1/records/case/{rid}").json()["stage"] == "active"
    amina.post(f"/records/case/{rid}/transitions/close", data={"comment": "All goals met.", "confirmed": "yes"})
    assert srv.client("amina").get(f"/api/v1/records/case/{rid}").json()["stage"] == "closed"


# -- 3. forms locked while they wait -----------------------------------------------------------
def test_a_form_waiting_for_approval_is_locked_with_the_reason(srv: Server) -> None:
    rid = requested(srv)
    a = srv.client("amina")
    version = a.get(f"/api/v1/records/case/{rid}").json()["version"]
    r = a.patch(f"/api/v1/records/case/{rid}", json={"version": version, "data": {"goal": "Changed"}})
    assert r.status_code == 409 and r.json()["code"] == "form_locked" and r.json()["forms"] == ["plan"]
    assert "Plan approval requested" in r.json()["error"]
    # other forms stay open
    r = a.patch(f"/api/v1/records/case/{rid}", json={"version": version, "data": {"name": "Amal B."}})
    assert r.status_code == 200
    amina = pages(srv, "amina")
    form = amina.get(f"/records/case/{rid}/forms/plan").text
    assert "cannot be changed while the record is at the stage" in text_of(form)
    assert 'value="save"' not in form
    # a save from a page opened before the request is refused, and what was typed is shown again
    r = amina.post(
        f"/records/case/{rid}/forms/plan", data={"version": str(version + 1), "action": "save", "f:goal": "Mine"}
    )
    assert r.status_code == 409 and "cannot be changed" in text_of(r.text) and 'value="Mine"' in r.text
    assert a.get(f"/api/v1/records/case/{rid}").json()["data"]["goal"] == "Safe housing"
    case_page = text_of(amina.get(f"/records/case/{rid}").text)
    assert "locked at this stage" in case_page


# -- 4. the supervisor's queue -----------------------------------------------------------------
def test_the_queue_counts_every_record_type_and_stage_and_pages(srv: Server) -> None:
    for _ in range(27):
        requested(srv, None)
    a = srv.client("amina")
    for _ in range(3):
        inc = a.post("/api/v1/records/incident", json={"data": {"what": "Reported at the clinic"}}).json()
        assert a.post(f"/api/v1/records/incident/{inc['id']}/transitions/submit", json={}).status_code == 200
    sam = pages(srv, "sam")
    home = text_of(sam.get("/").text)
    assert "Waiting for your decision 30" in home
    assert "Case · Plan approval requested 27" in home and "Incident · Waiting for review 3" in home
    assert "See all 30 records waiting for your decision" in home
    first = sam.get("/queue").text
    second = sam.get("/queue?page=2").text
    ids = set(re.findall(r'href="/records/(?:case|incident)/([0-9a-f-]{36})"', first))
    ids2 = set(re.findall(r'href="/records/(?:case|incident)/([0-9a-f-]{36})"', second))
    assert len(ids) == 25 and len(ids2) == 5 and not ids & ids2
    assert "page 1 of 2" in text_of(first)
    assert "Decisions" in text_of(first)  # in the navigation
    # a caseworker has nothing to decide
    assert "Waiting for your decision" not in text_of(pages(srv, "amina").get("/").text)


# -- 5. assignment picker ----------------------------------------------------------------------
def test_assignment_offers_the_colleagues_who_may_receive_it(srv: Server) -> None:
    rid = requested(srv)
    sam = pages(srv, "sam")
    html = sam.get(f"/records/case/{rid}").text
    select = html[html.index('id="assign-to"') : html.index("</select>", html.index('id="assign-to"'))]
    offered = re.findall(r'<option value="([^"]+)"', select)
    assert offered == ["bilal", "cora"]  # not amina (she owns it), not sam (themself), not far (another agency)
    assert "Cora M. (cora)" in select
    sam.post(f"/records/case/{rid}/assign", data={"to": "bilal"})
    html = sam.get(f"/records/case/{rid}").text
    select = html[html.index('id="assign-to"') : html.index("</select>", html.index('id="assign-to"'))]
    assert re.findall(r'<option value="([^"]+)"', select) == ["cora"]
    # the owner is refused by the service too, whatever the page offered
    r = srv.client("sam").post(f"/api/v1/records/case/{rid}/assignments", json={"to": "amina"})
    assert r.status_code == 409


# -- 12. form states -----------------------------------------------------------------------------
def test_forms_are_not_started_in_progress_or_complete(srv: Server) -> None:
    amina = pages(srv, "amina")
    r = amina.post("/records/case/new", data={"client_id": ""})
    rid = str(r.url).split("/")[5]
    page = text_of(amina.get(f"/records/case/{rid}").text)
    forms = page[page.index("Forms") : page.index("Next steps")]
    assert forms.count("Not started") == 1 and "Not needed" in forms and "Complete" not in forms
    assert (
        amina.post(
            f"/records/case/{rid}/forms/intake", data={"version": "1", "action": "save", "f:sex": "female"}
        ).status_code
        == 200
    )
    page = text_of(amina.get(f"/records/case/{rid}").text)
    assert "In progress: 1 required answer missing" in page and "Not started" not in page
    api = srv.client("amina").get(f"/api/v1/records/case/{rid}").json()
    assert api["forms"]["intake"]["state"] == "in_progress" and api["forms"]["plan"]["state"] == "not_started"
    # through the API, a form saved with nothing in it is started too
    a = srv.client("amina")
    other = a.post("/api/v1/records/case", json={"data": {}}).json()
    assert other["forms"]["intake"]["state"] == "not_started"
    r = a.patch(f"/api/v1/records/case/{other['id']}", json={"version": other["version"], "data": {}, "form": "intake"})
    assert r.status_code == 200 and r.json()["forms"]["intake"]["state"] == "in_progress"
    bad = a.patch(f"/api/v1/records/case/{other['id']}", json={"version": r.json()["version"], "data": {}, "form": "x"})
    assert bad.status_code == 400


# -- 14. history -----------------------------------------------------------------------------------
def test_history_folds_calculations_and_counts_what_the_reader_cannot_see(srv: Server) -> None:
    rid = requested(srv)
    a = srv.client("amina")
    version = a.get(f"/api/v1/records/case/{rid}").json()["version"]
    a.patch(f"/api/v1/records/case/{rid}", json={"version": version, "data": {"name": "Amal B."}})
    page = text_of(pages(srv, "sam").get(f"/records/case/{rid}").text)
    history = page[page.index("History") :]
    assert "1 answer you cannot see" in history  # the name is a direct identifier
    assert "changed: 1 answer you cannot see" in history
    assert not re.search(r"changed:\s*([A-Z][a-z]{2} \d|$)", history)  # never "changed:" with nothing after it
    created = text_of(pages(srv, "amina").get(f"/records/case/{rid}").text)
    assert "2 calculated answers updated" in created  # the age and the total, folded away


def test_history_lists_and_colons_follow_the_readers_language(srv: Server) -> None:
    rid = requested(srv)
    amina = pages(srv, "amina")
    amina.post("/locale", data={"locale": "ar", "back": "/"})
    html = amina.get(f"/records/case/{rid}").text
    history = html[html.index('id="hist-h"') :]
    created = history[history.index("أُنشئ") :].split("</li>")[0]
    # Arabic joins a list with "و", never a Latin comma; a separator stands before the folded calculations
    assert '</span> و<span class="change">' in created and ", " not in created, created
    assert re.search(r'<span class="meta"> · </span><details class="computed">', created)
    assert "Age و" in text_of(created) or "Age</span> و" in created
    amina.post("/locale", data={"locale": "fr", "back": "/"})
    html = amina.get(f"/records/case/{rid}").text
    created = html[html.index('id="hist-h"') :].split("créé", 1)[1].split("</li>")[0]
    assert created.startswith("\u00a0: ") and '</span> et <span class="change">' in created, created


# -- 15. sizes ------------------------------------------------------------------------------------
def test_an_oversized_answer_gets_the_apps_page_in_the_readers_language(srv: Server) -> None:
    amina = pages(srv, "amina")
    r = amina.post("/records/case/new", data={"client_id": ""})
    rid = str(r.url).split("/")[5]
    amina.post("/locale", data={"locale": "fr", "back": "/"})
    r = amina.post(
        f"/records/case/{rid}/forms/intake",
        files={"version": (None, "1"), "f:name": (None, "x" * (1024 * 1024 + 10))},
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="fr"' in r.text and re.search(r"1\sMo", r.text) and "exceeded" not in r.text
    big = "f:name=" + "x" * (5 * 1024 * 1024)
    r = amina.post(
        f"/records/case/{rid}/forms/intake",
        content=big,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413 and '<html lang="fr"' in r.text and re.search(r"4\sMo", r.text)


# -- 16. what axe does not see -------------------------------------------------------------------
def test_read_only_choices_are_text_and_new_records_are_called_the_same(srv: Server) -> None:
    rid = requested(srv)
    form = pages(srv, "sam").get(f"/records/case/{rid}/forms/intake").text
    assert "disabled" not in form  # no pale, disabled radio buttons for a reader
    answer = re.search(r'<p class="readonly-answer" id="fld-sex"[^>]*>([^<]*)</p>', form)
    assert answer and answer.group(1) == "Female"
    amina = pages(srv, "amina")
    buttons = {
        re.search(r'action="/records/case/new".*?<button[^>]*>([^<]+)</button>', amina.get(url).text, re.S).group(1)  # type: ignore[union-attr]
        for url in ("/", "/records/case")
    }
    assert buttons == {"New record"}
