"""Issue 12, item 7: consent to a referral names the organisation, per service, as Primero records
it; a referral step with `organisation_from` goes only to that organisation (or one of its users),
unless a role with consent_override sends it elsewhere with a recorded reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import MakeModule
from tests.security.conftest import MODULE, USERS, World
from tests.server import server

ORG_MODULE = dict(MODULE)
ORG_MODULE["forms/consent.yaml"] = (
    str(MODULE["forms/consent.yaml"])
    + """
          - id: consent_referral_org
            type: select_one
            label: Organisation the person agrees to be referred to
            choices:
              - {value: agency_a, label: Agency A}
              - {value: agency_b, label: Agency B}
"""
)
ORG_MODULE["workflows/case_flow.yaml"] = str(MODULE["workflows/case_flow.yaml"]).replace(
    "            referral: true\n", "            referral: true\n            organisation_from: consent_referral_org\n"
)


@pytest.fixture
def org_world(db_url: str, make_module: MakeModule) -> Iterator[World]:
    with server(db_url, [make_module(ORG_MODULE)]) as srv:
        for name, (role, agency, groups) in USERS.items():
            srv.add_user(name, role, agency=agency, groups=groups)
        yield World(srv)


def test_a_referral_goes_only_to_the_organisation_the_person_agreed_to(org_world: World) -> None:
    w = org_world
    rec = w.case()  # consent_referral yes, no organisation named
    r = w.refer(rec, to="bea")
    assert r.status_code == 422 and "Organisation the person agrees to be referred to" in r.json()["error"]
    rec = w.case(consent_referral_org="agency_a")
    r = w.refer(rec, to="bea")  # bea works for agency B
    assert r.status_code == 422 and "Agency A" in r.json()["error"]
    assert not [x for x in w.inbox("bea") if x["record_id"] == rec["id"]]
    assert w.refer(rec, to_agency="agency_b").status_code == 422
    rec_b = w.case(consent_referral_org="agency_b")
    assert w.refer(rec_b, to="bea").status_code == 201
    assert w.refer(rec_b, to_agency="agency_b").status_code == 201


def test_a_supervisor_may_override_with_a_recorded_reason(org_world: World) -> None:
    w = org_world
    rec = w.case(consent_referral_org="agency_a")
    assert w.refer(rec, by="sara", to="bea").status_code == 422  # no reason given
    r = w.refer(rec, by="sara", to="bea", override_reason="Agency A has no counsellor this month.")
    assert r.status_code == 201
    audit = w.client("dpo_a").get("/api/v1/audit", params={"record": rec["id"]}).json()
    refer = [e for e in audit["entries"] if e["action"] == "record.refer"]
    assert len(refer) == 1 and refer[0]["details"]["override"] is True, refer
