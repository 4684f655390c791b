"""Sending a day of offline work: 500 queued records (250 GBV cases with consent and survivor
information, 250 incidents with the Incident Recorder's answers) from one browser through
`POST /api/v1/sync`, against saving the same records online one at a time (`POST
/api/v1/records/...` from the same browser, each awaited), in the same run.

    python -m tests.benchmarks.bench_sync [--records 500] [--db sqlite|postgresql]

Prints both times and the ratio (sync / one at a time); exits 2 if the server does not end up
with exactly the records sent. Uses the system Chromium (Playwright) and a scratch database.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from typing import Any

from tests.browser import browser, live
from tests.conftest import ROOT
from tests.server import PASSWORD, database, server

GBV = f"{ROOT}/definitions/gbv"


def case_data(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "consent_date": f"2026-11-{rng.randint(1, 28):02d}",
        "consent_obtained_from": "survivor",
        "age_band_at_consent": "18_plus",
        "confidentiality_explained": "yes",
        "consent_for_services": "yes",
        "consent_reporting": rng.choice(["yes", "no"]),
        "survivor_code": f"GBV-{i:04d}",
        "name": f"Survivor {i}",
        "date_of_birth": f"{rng.randint(1960, 2005)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "sex": rng.choice(["female", "male"]),
        "marital_status": rng.choice(["single", "married_cohabitating", "divorced_separated", "widowed"]),
        "displacement_status": rng.choice(["resident", "idp", "refugee", "returnee"]),
        "safe_to_contact": "yes",
        "address": f"Camp {rng.randint(1, 9)}, block {rng.choice('ABCDEF')}",
    }


def incident_data(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "incident_code": f"INC-{i:04d}",
        "survivor_code": f"GBV-{i:04d}",
        "date_of_interview": f"2026-11-{rng.randint(10, 28):02d}",
        "incident_date": f"2026-11-0{rng.randint(1, 9)}",
        "survivor_sex": rng.choice(["female", "male"]),
        "incident_timeofday": rng.choice(["morning", "afternoon", "evening_night"]),
        "gbv_type": rng.choice(["rape", "sexual_assault", "physical_assault", "forced_marriage"]),
        "consent_reporting": "yes",
        "incident_description": "An account of what happened, in the survivor's words. " * 4,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    rng = random.Random(5)
    half = args.records // 2
    offline = [("case", str(uuid.uuid4()), case_data(rng, i)) for i in range(half)] + [
        ("incident", str(uuid.uuid4()), incident_data(rng, i)) for i in range(args.records - half)
    ]
    online = [(rt, str(uuid.uuid4()), data) for rt, _id, data in offline]
    with database(args.db, tempfile.mkdtemp()) as url, server(url, [GBV]) as srv:
        srv.add_user("worker", "caseworker")
        with live(srv.app) as base, browser() as b:
            page = b.new_context(base_url=base).new_page()
            page.goto(base + "/login?locale=en")
            page.fill("#username", "worker")
            page.fill("#password", PASSWORD)
            page.click("form[action^='/login'] button[type=submit]")
            page.wait_for_url(base + "/")
            page.wait_for_function("() => window.SanadStore && window.SanadStore.unlocked('worker')")
            # a day offline: the changes are in the device's queue (encrypted), as the app leaves them
            page.evaluate(
                """async (items) => { for (const [i, [rt, id, data]] of items.entries()) {
                     await SanadStore.put('queue', 'c' + i + id.slice(0, 8), {change_id: 'c' + i + id.slice(0, 8),
                       op: 'create', record_type: rt, id: id, data: data, order: i}); } }""",
                offline,
            )
            t0 = time.perf_counter()
            page.evaluate("window.SanadOffline.send()")  # resolves once every batch is answered
            sync_s = time.perf_counter() - t0
            left = page.evaluate("async () => (await window.SanadOffline.queued()).length")
            issues = page.evaluate("async () => (await SanadStore.all('issues')).slice(0, 3)")
            if left or issues:
                print(f"not sent: {left}; refused: {issues}", file=sys.stderr)
                return 2
            t0 = time.perf_counter()
            statuses = page.evaluate(
                """async (items) => { const out = [];
                   for (const [rt, id, data] of items) {
                     const r = await fetch('/api/v1/records/' + rt, {method: 'POST', headers: {'content-type': 'application/json'},
                       body: JSON.stringify({id: id, data: data})});
                     out.push(r.status); }
                   return out; }""",
                online,
            )
            online_s = time.perf_counter() - t0
            total = sum(page.request.get(f"/api/v1/records/{rt}").json()["total"] for rt in ("case", "incident"))
    if total != 2 * args.records or any(s != 201 for s in statuses):
        print(f"the server holds {total} records, expected {2 * args.records}", file=sys.stderr)
        return 2
    print(f"\nSending {args.records} queued records ({half} cases, {args.records - half} incidents), {args.db}")
    print(f"  batch sync (POST /api/v1/sync, 50 a request)   {sync_s:7.2f} s  ({args.records / sync_s:,.0f} records/s)")
    print(
        f"  online, one at a time (POST /api/v1/records)    {online_s:7.2f} s  ({args.records / online_s:,.0f} records/s)"
    )
    print(f"  ratio sync / one at a time                      {sync_s / online_s:7.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
