"""Working offline, in a real browser (issue 13): Chromium with `context.set_offline(True)`.

Sign in, take the forms offline, lose the connection, create a case and an incident, fill and edit
them, reload while offline (the app still opens, the draft is still there), reconnect, send: the
server holds exactly one case with every answer. Also: an answer lost on the way back is sent again
and applied once; two caseworkers edit the same case offline (different answers merge; the same
answer is a conflict they resolve); a step the server refuses is shown, not lost; forms updated
meanwhile are fetched again and the data kept; signing out clears the device; the device's store
holds no readable survivor name; after a password change the earlier password opens the device's
data once, and from then on the new one does."""

from __future__ import annotations

import re
import time
from typing import Any

from engine.service import accounts
from engine.storage import db
from tests.browser import answer_consent as fill_consent
from tests.browser import screenshot, sign_in
from tests.server import PASSWORD

TIMEOUT = 15.0


def wait_for(page: Any, script: str, timeout: float = TIMEOUT) -> Any:
    """Poll a JS expression (it may be async) until it is truthy."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = page.evaluate(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never true: {script}")


def ready_offline(page: Any) -> None:
    """The service worker controls the page and the forms are kept on the device."""
    wait_for(
        page,
        "async () => !!navigator.serviceWorker.controller && !!(await caches.match('/offline'))"
        " && !!(await caches.match('/offline/form/incident/gbv_incident'))",
    )


def sent(page: Any) -> None:
    """Everything queued was sent (the status says so)."""
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_for(
        page,
        "async () => (await window.SanadOffline.queued()).length === 0"
        " && !document.querySelector('#sync-status').textContent.includes('…')",
    )


def new_offline(page: Any, base: str, record_type: str) -> str:
    page.goto(base + "/offline")
    page.click(f"button[data-new={record_type}]")
    page.wait_for_selector("#record-form[data-live='1']")
    return str(page.url).split("id=")[1]


def raw_store(page: Any, user: str) -> str:
    return str(
        page.evaluate(
            """async (name) => {
              const db = await new Promise((ok, fail) => { const q = indexedDB.open(name); q.onsuccess = () => ok(q.result); q.onerror = fail; });
              const out = [];
              for (const s of db.objectStoreNames) {
                out.push(await new Promise(ok => { const q = db.transaction(s).objectStore(s).getAll(); q.onsuccess = () => ok(JSON.stringify(q.result)); }));
              }
              db.close();
              return out.join('\\n');
            }""",
            f"sanad-{user}",
        )
    )


def test_a_day_without_a_connection(site: dict[str, Any]) -> None:
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    before = page.request.get("/api/v1/records/case").json()["total"]
    page.context.set_offline(True)
    rid = new_offline(page, base, "case")
    fill_consent(page)
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    page.goto(f"{base}/offline/form/case/survivor_information?id={rid}")
    page.wait_for_selector("#record-form[data-live='1']")
    page.fill("#fld-survivor_code", "GBV-0777")
    page.fill("#fld-name", "Amal Offline")
    page.check("[data-field='sex'] input[value=female]")
    page.fill("#fld-date_of_birth", "2012-05-01")  # a child: the child's questions appear, live
    page.locator("fieldset[data-section='section_child']").wait_for(state="visible")
    time.sleep(0.6)  # the draft is saved as you type
    page.reload()  # still offline: the page opens from the device, the draft is there
    page.wait_for_selector("#record-form[data-live='1']")
    wait_for(page, "document.querySelector('#fld-name').value === 'Amal Offline'")
    assert "restored" in page.inner_text("main")
    screenshot(page, "offline-form-draft")
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    page.click("button[data-link=incident]")  # the case's incident, made from its page: linked to it
    page.wait_for_selector("#record-form[data-live='1']")
    incident = str(page.url).split("id=")[1]
    page.fill("#fld-incident_code", "INC-0777")
    page.fill("#fld-date_of_interview", "2026-12-02")
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    page.goto(base + "/offline")
    page.wait_for_selector(".offline-records li")
    assert "Offline" in page.inner_text("#sync-status") and "Changes waiting: 2" in page.inner_text(
        "#sync-status"
    )  # a new case and its edits are one
    screenshot(page, "offline-home")
    store = raw_store(page, "caseworker")
    # ciphertext is base64, in which any four letters turn up by chance ("…viAmalkf…" once in CI):
    # the words are looked for in everything but the sealed values, which must be base64 and nothing else
    unsealed = re.sub(r'"(iv|data)":"[A-Za-z0-9+/=]*"', "", store)
    assert "Amal" not in unsealed and "GBV-0777" not in store and "INC-0777" not in store
    page.context.set_offline(False)
    sent(page)
    cases = page.request.get("/api/v1/records/case").json()
    assert cases["total"] == before + 1
    case = page.request.get(f"/api/v1/records/case/{rid}").json()
    assert case["data"]["name"] == "Amal Offline" and case["data"]["consent_for_services"] == "yes"
    assert case["data"]["date_of_birth"] == "2012-05-01" and case["data"]["survivor_code"] == "GBV-0777"
    assert page.request.get(f"/api/v1/records/incident/{incident}").json()["data"]["incident_code"] == "INC-0777"
    assert [link["id"] for link in case["links"]] == [incident]
    assert page.js_errors == []


def test_an_answer_lost_on_the_way_back_is_applied_once(site: dict[str, Any]) -> None:
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    page.context.set_offline(True)
    rid = new_offline(page, base, "case")
    fill_consent(page)
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    # the first send reaches the server, but its answer is lost on the way back (the device still
    # holds the change): what the server received is exactly what the device will send again
    changes = page.evaluate(
        """async () => (await window.SanadOffline.queued()).map(c => ({change_id: c.change_id, op: c.op,
             record_type: c.record_type, id: c.id, data: c.data}))"""
    )
    answer = page.request.post("/api/v1/sync", data={"changes": changes})
    first = [x["status"] for x in answer.json()["results"]]
    assert first == ["applied"]
    page.context.set_offline(False)
    sent(page)  # sent again
    found = [r for r in page.request.get("/api/v1/records/case?page=1").json()["items"] if r["id"] == rid]
    assert len(found) == 1 and found[0]["version"] == 1


def test_the_queue_asked_as_the_page_opens_waits_for_the_store(site: dict[str, Any]) -> None:
    """The device's queue (`SanadOffline.queued()`), asked while a page that has just loaded still
    resumes its store's key, waits for the store instead of failing with "locked" (a test that asked
    right after a page opened failed that way once in CI)."""
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    # the key's import made slow, so the page is still resuming its store when it is asked
    page.add_init_script(
        "(() => { const importKey = crypto.subtle.importKey.bind(crypto.subtle);"
        " crypto.subtle.importKey = (...a) => new Promise(ok => setTimeout(ok, 800)).then(() => importKey(...a)); })()"
    )
    page.goto(base + "/offline")
    assert page.evaluate("async () => (await window.SanadOffline.queued()).length") == 0


def _shared_case(site: dict[str, Any]) -> str:
    """A case of caseworker assigned to caseworker2 too: both hold it, both may keep it offline."""
    owner = sign_in(site, "caseworker")
    rid = owner.request.get("/api/v1/records/case?stage=follow_up").json()["items"][-1]["id"]
    manager = sign_in(site, "cm_manager")
    r = manager.request.post(f"/api/v1/records/case/{rid}/assignments", data={"to": "caseworker2"})
    assert r.status in (200, 409), r.text()
    owner.context.close()
    manager.context.close()
    return str(rid)


def _edit_offline(page: Any, base: str, rid: str, field: str, value: str) -> None:
    page.goto(f"{base}/offline/form/case/survivor_information?id={rid}")
    page.wait_for_selector("#record-form[data-live='1']")
    page.fill(f"#fld-{field}", value)
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")


def test_two_caseworkers_offline_merge_and_resolve_a_conflict(site: dict[str, Any]) -> None:
    base = site["base"]
    rid = _shared_case(site)
    one, two = sign_in(site, "caseworker"), sign_in(site, "caseworker2")
    for p in (one, two):
        ready_offline(p)
        p.goto(f"{base}/records/case/{rid}")
        p.click("[data-offline-toggle] button")
        wait_for(p, "document.querySelector('[data-offline-toggle] button').getAttribute('aria-pressed') === 'true'")
        p.context.set_offline(True)
    _edit_offline(one, base, rid, "nickname", "Ami")
    _edit_offline(two, base, rid, "occupation", "Teacher")
    _edit_offline(one, base, rid, "address", "Near the market")
    _edit_offline(two, base, rid, "address", "Camp 3, block C")
    one.context.set_offline(False)
    sent(one)
    two.context.set_offline(False)
    sent(two)
    data = two.request.get(f"/api/v1/records/case/{rid}").json()["data"]
    assert data["nickname"] == "Ami" and data["occupation"] == "Teacher"  # different answers: merged
    assert data["address"] == "Near the market"  # the same answer: not overwritten silently
    two.goto(f"{base}/offline?id={rid}")
    conflict = two.locator("form[data-conflict]")
    conflict.wait_for()
    assert "Near the market" in conflict.inner_text() and "Camp 3, block C" in conflict.inner_text()
    screenshot(two, "offline-conflict")
    conflict.locator("input[value=mine]").check()
    conflict.locator("button[type=submit]").click()
    sent(two)
    assert two.request.get(f"/api/v1/records/case/{rid}").json()["data"]["address"] == "Camp 3, block C"


def test_a_refused_change_is_kept_for_correction(site: dict[str, Any]) -> None:
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    page.context.set_offline(True)
    rid = new_offline(page, base, "case")
    page.click("button[value=save]")  # saved with nothing in it
    page.wait_for_url("**/offline?id=*")
    page.wait_for_selector("button[data-step='start_assessment']")
    page.click("button[data-step='start_assessment']")  # queued; the server will refuse it: no consent yet
    page.context.set_offline(False)
    sent(page)
    page.goto(f"{base}/offline?id={rid}")
    issue = page.locator("[data-issue=rejected]")
    issue.wait_for()
    assert "consent" in issue.inner_text().lower()
    assert page.inner_text("p.stage") == "Introduction and engagement"  # the step did not happen: back at its stage
    issue.locator("a").click()  # correct: give consent, then take the step again
    page.wait_for_selector("#record-form[data-live='1']")
    assert "/offline/form/case/consent_services" in page.url
    fill_consent(page)
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    page.wait_for_selector("button[data-step='start_assessment']")
    assert page.locator("[data-issue]").count() == 1  # the step's refusal stays until it is taken again
    page.click("button[data-step='start_assessment']")
    page.wait_for_selector("[data-issue]", state="detached")
    sent(page)
    case = page.request.get(f"/api/v1/records/case/{rid}").json()
    assert case["stage"] == "assessment" and case["data"]["consent_for_services"] == "yes"
    assert page.evaluate("async () => (await SanadStore.all('issues')).length") == 0


def test_a_refused_new_record_is_sent_again_once_corrected(site: dict[str, Any]) -> None:
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    page.context.set_offline(True)
    rid = new_offline(page, base, "case")
    fill_consent(page)
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    # an answer the server no longer accepts (an option removed from the list since)
    page.evaluate(
        """async (id) => { const q = (await SanadStore.all('queue')).filter(c => c.id === id)[0];
             q.data.consent_obtained_from = 'neighbour'; await SanadStore.put('queue', q.change_id, q);
             const r = await SanadStore.get('records', id); r.data.consent_obtained_from = 'neighbour';
             await SanadStore.put('records', id, r); }""",
        rid,
    )
    page.context.set_offline(False)
    sent(page)
    assert page.request.get(f"/api/v1/records/case/{rid}").status == 404  # refused: nothing stored
    page.goto(f"{base}/offline?id={rid}")
    issue = page.locator("[data-issue=rejected]")
    issue.wait_for()
    issue.locator("a").click()
    page.wait_for_selector("#record-form[data-live='1']")
    assert page.input_value("#fld-consent_date") == "2026-12-01"  # the answers are all still there
    page.check("[data-field='consent_obtained_from'] input[value='survivor']")
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    sent(page)
    case = page.request.get(f"/api/v1/records/case/{rid}").json()
    assert case["data"]["consent_obtained_from"] == "survivor" and case["data"]["consent_date"] == "2026-12-01"
    assert page.evaluate("async () => (await SanadStore.all('issues')).length") == 0


def test_forms_updated_while_offline_are_fetched_again_and_the_data_kept(site: dict[str, Any]) -> None:
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    page.evaluate(
        """async () => { const p = (await SanadStore.get('meta', 'package')).value;
             p.definitions_version = '0.9-old'; await SanadStore.put('meta', 'package', {value: p}); }"""
    )
    page.context.set_offline(True)
    rid = new_offline(page, base, "case")
    fill_consent(page)
    page.click("button[value=save]")
    page.wait_for_url("**/offline?id=*")
    page.context.set_offline(False)
    sent(page)
    version = wait_for(
        page,
        "async () => { const v = (await SanadStore.get('meta', 'package')).value.definitions_version; return v !== '0.9-old' && v; }",
    )
    assert version == "1.0.0"
    assert page.request.get(f"/api/v1/records/case/{rid}").json()["data"]["consent_for_services"] == "yes"


def test_signing_out_clears_the_device(site: dict[str, Any]) -> None:
    base = site["base"]
    page = sign_in(site, "caseworker")
    ready_offline(page)
    page.context.set_offline(True)
    new_offline(page, base, "case")
    page.context.set_offline(False)
    page.goto(base + "/")
    page.on("dialog", lambda d: d.accept())  # "Changes not sent yet: 1. Signing out deletes them…"
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    names = page.evaluate("async () => (await indexedDB.databases()).map(d => d.name)")
    assert "sanad-caseworker" not in names


def sign_in_as(context: Any, base: str, username: str, password: str) -> Any:
    page = context.new_page()  # a new tab: nothing unlocked in it yet
    page.goto(base + "/login?locale=en")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_url(base + "/")
    return page


def kept_then_password_reset(site: dict[str, Any], username: str, new_password: str) -> tuple[Any, str]:
    """A caseworker who keeps a case on her device, offline; then an administrator resets her
    password (sanad users reset-password). Her browser context, and the case's id."""
    base, srv = site["base"], site["server"]
    srv.add_user(username, "caseworker")
    context = site["browser"].new_context(base_url=base)
    page = sign_in_as(context, base, username, PASSWORD)
    ready_offline(page)
    page.context.set_offline(True)
    rid = new_offline(page, base, "case")
    page.context.set_offline(False)
    page.close()
    engine = db.make_engine(srv.url)
    with db.transaction(db.session_factory(engine)) as session:
        accounts.reset_password(session, accounts.hasher(cheap=True), username, new_password)
    engine.dispose()
    return context, rid


def test_after_a_password_change_the_earlier_password_opens_the_device_once(site: dict[str, Any]) -> None:
    base = site["base"]
    context, rid = kept_then_password_reset(site, "rekeyed", "a brand new passphrase")
    page = context.new_page()  # a mistyped password: the server refuses it, the device keeps nothing of it
    page.goto(base + "/login?locale=en")
    page.fill("#username", "rekeyed")
    page.fill("#password", "not the password")
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_selector("[role=alert]")
    wait_for(page, "sessionStorage.getItem('sanad.signingIn') === null")
    assert '"id":"rekey"' not in raw_store(page, "rekeyed")
    page.close()
    page = sign_in_as(context, base, "rekeyed", "a brand new passphrase")
    wait_for(page, "document.querySelector('#sync-status').textContent.includes('locked')")
    page.goto(base + "/offline")
    page.fill("#unlock-password", "a brand new passphrase")
    page.click("#offline-app button[type=submit]")
    page.wait_for_selector("#offline-app [role=alert]:not([hidden])")
    assert "the one you had before" in page.inner_text("#offline-app")
    page.fill("#unlock-password", PASSWORD)
    page.click("#offline-app button[type=submit]")
    page.wait_for_selector(".offline-records li")
    assert rid in page.inner_html(".offline-records")
    page.close()
    page = sign_in_as(context, base, "rekeyed", "a brand new passphrase")  # the new password now opens it
    wait_for(page, "window.SanadStore.unlocked('rekeyed')")
    assert '"id":"rekey"' not in raw_store(page, "rekeyed")
    context.close()


def test_what_is_typed_online_survives_a_closed_tab(site: dict[str, Any]) -> None:
    """Online too, a closed tab or a dead battery loses nothing typed: the answers come back on the
    form until the server has them; typed on a version someone has since changed, they are offered
    back, never applied unseen."""
    base = site["base"]
    page = sign_in(site, "caseworker")
    rid = page.request.get("/api/v1/records/case?stage=follow_up").json()["items"][0]["id"]
    url = f"{base}/records/case/{rid}/forms/survivor_information"
    page.goto(url)
    page.wait_for_selector("#record-form[data-live='1']")
    page.fill("#fld-nickname", "Typed, never saved")
    time.sleep(0.6)
    page.goto(base + "/")  # the tab is left without saving
    page.goto(url)
    wait_for(page, "document.querySelector('#fld-nickname').value === 'Typed, never saved'")
    assert page.locator("[data-draft=restored]").is_visible()
    with page.expect_navigation():
        page.click("button[value=save]")
    assert page.request.get(f"/api/v1/records/case/{rid}").json()["data"]["nickname"] == "Typed, never saved"
    page.goto(url)  # saved: the draft is gone
    page.wait_for_selector("#record-form[data-live='1']")
    time.sleep(0.5)
    assert page.locator("[data-draft]").count() == 0
    # typed, never saved, and meanwhile someone else changes the record: offered back, not applied
    page.fill("#fld-nickname", "Mine, unsaved")
    time.sleep(0.6)
    record = page.request.get(f"/api/v1/records/case/{rid}").json()
    r = page.request.patch(  # another tab, another device
        f"/api/v1/records/case/{rid}", data={"version": record["version"], "data": {"occupation": "Nurse"}}
    )
    assert r.ok, r.text()
    page.goto(url)
    note = page.locator("[data-draft=older]")
    note.wait_for()
    assert page.input_value("#fld-nickname") == "Typed, never saved"
    note.locator("button.secondary").click()
    assert page.input_value("#fld-nickname") == "Mine, unsaved"
    assert page.locator("[data-draft]").count() == 0


# A slow device: on the page after a sign-in, IndexedDB takes 1.5 s to open.
SLOW_AFTER_SIGN_IN = """
if (sessionStorage.getItem('sanad.signingIn')) {
  const open = indexedDB.open.bind(indexedDB);
  indexedDB.open = function (name, version) {
    const real = open(name, version);
    const slow = { result: undefined, error: null, onsuccess: null, onerror: null, onupgradeneeded: null };
    real.onupgradeneeded = (e) => { slow.result = real.result; if (slow.onupgradeneeded) slow.onupgradeneeded(e); };
    real.onsuccess = (e) => setTimeout(() => { slow.result = real.result; if (slow.onsuccess) slow.onsuccess(e); }, 1500);
    real.onerror = (e) => { slow.error = real.error; if (slow.onerror) slow.onerror(e); };
    return slow;
  };
}
"""


def test_a_password_change_is_kept_when_the_page_after_signing_in_is_left_at_once(site: dict[str, Any]) -> None:
    """On a slow device the caseworker signs in with the new password and goes straight to the
    offline page: the device still learns that the new password was accepted, and the earlier
    password then moves the data to it."""
    base = site["base"]
    context, rid = kept_then_password_reset(site, "hurried", "another new passphrase")
    context.add_init_script(SLOW_AFTER_SIGN_IN)
    page = sign_in_as(context, base, "hurried", "another new passphrase")
    page.goto(base + "/offline")  # at once, before the page after signing in has stored anything
    page.fill("#unlock-password", PASSWORD)
    page.click("#offline-app button[type=submit]")
    page.wait_for_selector(".offline-records li")
    assert rid in page.inner_html(".offline-records")
    page.close()
    page = sign_in_as(context, base, "hurried", "another new passphrase")
    wait_for(page, "window.SanadStore.unlocked('hurried')")
    context.close()
