"""Issue 18, item 4: Services → Import in the dashboard (upload, plan, import), on SQLite and
PostgreSQL. Bad uploads are a 422 with the reason, never a 500."""

from __future__ import annotations

import html
import io
import pathlib
import re
import zipfile

import pytest

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "import" / "pagerduty"
TABLES = ("users", "schedules", "schedule_overrides", "escalation_policies", "services")


def loose_files() -> list:
    """The export as a browser sends several chosen files: names without their folders."""
    return [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(FIXTURE.rglob("*.json"))]


def zipped(top: str = "pagerduty-export/") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for p in sorted(FIXTURE.rglob("*.json")):
            archive.write(p, top + str(p.relative_to(FIXTURE)))
    return out.getvalue()


def counts(setup) -> dict:
    return {t: setup.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}


def upload(client, files, tool="pagerduty"):
    return client.post("/services/import-from", data={"tool": tool, "files": files},
                       content_type="multipart/form-data")


def bundle_of(page: str) -> str:
    return html.unescape(re.search(r'name="bundle" value="([^"]*)"', page).group(1))


def test_the_services_page_links_to_the_import(admin):
    assert 'href="/services/import-from"' in admin.get("/services").get_data(as_text=True)
    page = admin.get("/services/import-from").get_data(as_text=True)
    assert '<option value="pagerduty" selected>PagerDuty</option>' in page and 'type="file" multiple' in page


def test_upload_shows_the_plan_then_import_applies_it(admin, setup):
    before = counts(setup)
    response = upload(admin, loose_files())
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Rota check: 39 entries, 0 mismatches" in page
    assert "❌</span> Ana Ortiz: iPhone: <small>PagerDuty&#39;s app push cannot be moved" in page
    assert "⚠️</span> Checkout Escalation (EU)" in page and 'hx-confirm="Import this plan?' in page
    assert counts(setup) == before
    done = admin.post("/services/import-from/apply", data={"bundle": bundle_of(page)})
    text = done.get_data(as_text=True)
    assert done.status_code == 200, text
    assert "Imported 4 users, 2 schedules, 1 escalation policies and 2 services." in text
    assert "Rota check: 39 entries, 0 mismatches" in text and 'name="bundle"' not in text
    assert counts(setup) == {"users": 5, "schedules": 2, "schedule_overrides": 3, "escalation_policies": 1,
                             "services": 2}
    token = setup.token("scripts")
    found = admin.get("/v1/schedules/Checkout%20Secondary/oncall?at=2027-01-16T12:00:00Z",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    assert found["users"] == ["dee@example.com"]  # her override on Saturday 16 January


def test_a_zip_of_the_folder_is_read_with_its_folders(admin):
    response = upload(admin, [(io.BytesIO(zipped()), "export.zip")])
    assert response.status_code == 200 and "Rota check: 39 entries, 0 mismatches" in response.get_data(as_text=True)


@pytest.mark.parametrize("files, message", [
    ([(b"{broken", "users.json")], "users.json: not JSON"),
    ([(b"hello", "notes.txt")], "notes.txt: not a .json file"),
    ([(b"PK\x03\x04 not really", "export.zip")], "the .zip file cannot be read"),
    ([(b"{}", "services.json")], "users.json: missing"),
    ([], "no files: choose the saved .json files, or one .zip of them"),
])
def test_a_bad_upload_is_a_422_with_the_reason(admin, files, message):
    response = upload(admin, [(io.BytesIO(content), name) for content, name in files])
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Nothing imported: " + html.escape(message) in page


def test_an_upload_over_the_limit_is_refused(admin, app, setup):
    app.config["IMPORT_MAX_BYTES"] = 4096
    before = counts(setup)
    response = upload(admin, loose_files())
    assert response.status_code == 413
    assert "Nothing imported: the upload is larger than 4 KiB" in response.get_data(as_text=True)
    assert counts(setup) == before


def test_a_damaged_plan_imports_nothing(admin, setup):
    before = counts(setup)
    response = admin.post("/services/import-from/apply", data={"bundle": '{"tool": "pagerduty"}'})
    assert response.status_code == 422
    assert "the plan to import was lost or damaged" in response.get_data(as_text=True)
    assert counts(setup) == before
