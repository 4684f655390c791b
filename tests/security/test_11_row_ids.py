"""Finding 11: hidden subform columns were merged by row position: when a user who cannot see a
column deleted row 1, the remaining row inherited row 1's hidden notes and its own were lost."""

from __future__ import annotations

from tests.security.conftest import World


def test_hidden_columns_follow_their_row(world: World) -> None:
    rows = [{"service": "Counselling", "note": "note of row 1"}, {"service": "Legal aid", "note": "note of row 2"}]
    rec = world.case(services=rows)
    vera = world.client("vera")  # writes registration, cannot see direct columns
    seen = vera.get(f"/api/v1/records/case/{rec['id']}").json()
    assert [r.get("note") for r in seen["data"]["services"]] == [None, None]
    kept = [r for r in seen["data"]["services"] if r["service"] == "Legal aid"]
    r = vera.patch(f"/api/v1/records/case/{rec['id']}", json={"version": seen["version"], "data": {"services": kept}})
    assert r.status_code == 200, r.text
    stored = world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["data"]["services"]
    assert [(x["service"], x["note"]) for x in stored] == [("Legal aid", "note of row 2")]


def test_the_form_page_keeps_hidden_columns_with_their_row(world: World) -> None:
    rows = [{"service": "Counselling", "note": "note of row 1"}, {"service": "Legal aid", "note": "note of row 2"}]
    rec = world.case(services=rows)
    vera = world.client("vera")
    page = vera.get(f"/records/case/{rec['id']}/forms/registration").text
    assert "note of row" not in page
    row_ids = [
        x["_row"] for x in world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["data"]["services"]
    ]
    form = {
        "version": "1",
        "f:services.__rows__": "1",
        "f:services.1._row": row_ids[1],
        "f:services.1.service": "Legal aid",
        "f:code": "GBV-0042",
        "f:age": "29",
    }
    r = vera.post(f"/records/case/{rec['id']}/forms/registration", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    stored = world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["data"]["services"]
    assert [(x["service"], x["note"]) for x in stored] == [("Legal aid", "note of row 2")]
