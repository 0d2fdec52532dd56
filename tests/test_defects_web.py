"""Issue 6 C: defects found in the dashboard, the JSON API and the CLI, each proven here first."""

import json
import logging

import pytest
from helpers import ALERTMANAGER, firing


def auth(token):
    return {"Authorization": f"Bearer {token}"}


# -- C11: only paths of this server are followed after login ----------------------------------

@pytest.mark.parametrize("target", ["/%09/evil.example/", "/%0A/evil.example", "/%0D%0A/x", "//evil.example",
                                    "/\\evil.example", "https://evil.example/", "/%5Cevil.example",
                                    "javascript:alert(1)", "/ /evil.example", "\\\\evil.example"])
def test_c11_login_never_redirects_off_site(add_user, app, client, target):
    email, password = add_user(app)
    response = client.post(f"/login?next={target}", data={"email": email, "password": password})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "evil" not in location.split("?")[0].lstrip("/").split("/")[0]


def test_c11_a_path_of_this_server_is_followed(add_user, app, client):
    email, password = add_user(app)
    response = client.post("/login?next=/calls%3Fstatus%3D202", data={"email": email, "password": password})
    assert response.headers["Location"] == "/calls?status=202"


# -- C12: bad request values get 400 or 404, never 500 ----------------------------------------

@pytest.fixture
def api(setup_for, dbapp):
    setup = setup_for(dbapp)
    setup.services(ALERTMANAGER)
    client = dbapp.test_client()
    return client, setup.token(), setup


BIG = "99999999999999999999"


@pytest.mark.parametrize("url, expected", [
    (f"/v1/incidents?page={BIG}", 400), ("/v1/incidents?page=%C2%B2", 400), ("/v1/incidents?page=0", 400),
    (f"/v1/incidents/{BIG}", 404), (f"/v1/incidents/{BIG}/acknowledge", 404),
    (f"/v1/incidents/{BIG}/resolve", 404), ("/v1/incidents?service=a%00b", 404),
    ("/v1/incidents?status=a%00b", 400)])
def test_c12_json_api_bad_values(api, url, expected):
    client, token, _ = api
    method = client.post if url.endswith(("acknowledge", "resolve")) else client.get
    response = method(url, headers=auth(token))
    assert response.status_code == expected, response.get_data(as_text=True)
    assert set(response.get_json()) == {"error", "message"}


@pytest.mark.parametrize("doc, expected", [
    ({"until": "9999-12-31T23:59:59-14:00"}, 400), ({"until": "10000-01-01T00:00:00Z"}, 400),
    ({"tags": [["a\u0000b"]]}, 201),  # the NUL is cleaned to U+FFFD, like a payload value
    ({"until": "-0001-01-01T00:00:00"}, 400), ({"tags": "x"}, 400)])
def test_c12_maintenance_bad_bodies(api, doc, expected):
    client, token, setup = api
    response = client.post("/v1/services/checkout-api/maintenance", json=doc, headers=auth(token))
    assert response.status_code == expected, response.get_data(as_text=True)
    body = response.get_json()
    if expected == 201:
        assert body["service"] == "checkout-api" and body["tags"] == [["a\ufffdb"]]
    else:
        assert set(body) == {"error", "message"}


def test_c12_maintenance_body_nested_deep(api):
    client, token, _ = api
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/v1/services/checkout-api/maintenance", data=body,
                           content_type="application/json", headers=auth(token))
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


@pytest.fixture
def signed_in(add_user, setup_for, sign_in, dbapp):
    client = dbapp.test_client()
    sign_in(client, *add_user(dbapp))
    setup = setup_for(dbapp)
    setup.services(ALERTMANAGER)
    return client, setup


@pytest.mark.parametrize("url", [
    f"/incidents?page={BIG}", "/incidents?page=%C2%B2", f"/incidents/{BIG}", f"/services/{BIG}",
    f"/calls?token={BIG}", f"/calls?page={BIG}", "/calls?token=%C2%B2", "/incidents?q=a%00b",
    "/incidents?service=%C2%B2", f"/incidents/rows?page={BIG}", f"/calls?service={BIG}"])
def test_c12_dashboard_bad_values_say_what_was_wrong(signed_in, url):
    client, _ = signed_in
    response = client.get(url)
    assert response.status_code in (400, 404), (url, response.status_code)
    assert "<html" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", [f"/incidents/{BIG}/resolve", f"/tokens/{BIG}/revoke", f"/users/{BIG}/active",
                                 f"/services/{BIG}/settings", f"/services/1/rules/{BIG}/delete"])
def test_c12_dashboard_actions_on_huge_ids(signed_in, url):
    client, _ = signed_in
    assert client.post(url).status_code == 404


@pytest.mark.parametrize("form_url, data", [
    ("/tokens", {"name": "a\u0000b", "service": ""}),
    ("/users", {"email": "a\u0000@example.com", "password": "longenough", "role": "responder"}),
])
def test_c12_nul_in_form_values_is_a_clear_error(signed_in, form_url, data):
    client, _ = signed_in
    response = client.post(form_url, data=data)
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


def test_c12_nul_in_login_email(add_user, dbapp):
    add_user(dbapp)
    response = dbapp.test_client().post("/login", data={"email": "a\u0000@example.com", "password": "x"})
    assert response.status_code == 422


# -- C13: import-config gives one line, never a traceback -------------------------------------

@pytest.mark.parametrize("content, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps({"services": [{"name": "x", "maintenance": [{"ends_at": "10000-01-01T00:00:00Z"}]}]}), "ends_at"),
    (json.dumps({"services": [{"name": "x", "maintenance": [{"ends_at": "9999-12-31T23:59:59-14:00"}]}]}),
     "ends_at"),
])
def test_c13_import_config_faults_are_one_line(dbapp, tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    result = dbapp.test_cli_runner().invoke(args=["import-config", str(path)])
    assert result.exit_code == 1, result.output
    assert message in result.output and str(path) in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_c13_import_config_cleans_surrogates_and_nul(dbapp, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"services": [{"name": "x", "trigger": [
        {"conditions": [{"json_key": "a\udc00", "contains": ["b\u0000"]}], "map_incident_with": "k\u0000",
         "title_from": "t\ud800"}],
        "maintenance": [{"tags": [["s\u0000"]]}]}]}))
    result = dbapp.test_cli_runner().invoke(args=["import-config", str(path)])
    assert result.exit_code == 0, result.output


# -- C14: the log never shows a token, however it is encoded ----------------------------------

def test_c14_percent_encoded_token_is_redacted(app, client, setup, caplog):
    setup.services(ALERTMANAGER)
    token = setup.token()
    encoded = "".join(f"%{ord(c):02X}" for c in token)
    with caplog.at_level(logging.INFO):
        response = client.post(f"/v1/process?tok%65n={encoded}&from=x", json=firing())
    assert response.status_code == 201
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "ingest" in text and token not in text and encoded not in text
    assert token[3:12] not in text


# -- C15: responders may dry-run, not send --------------------------------------------------

def test_c15_responders_cannot_send_real_calls(add_user, sign_in, app, client, setup):
    setup.services(ALERTMANAGER)
    setup.token("global")
    sign_in(client, *add_user(app, "r@example.com", admin=False))
    page = client.get("/test").get_data(as_text=True)
    assert "Dry run" in page and "Send (recorded" not in page
    token_id = setup.query("SELECT id FROM api_tokens")[0][0]
    data = {"token": str(token_id), "content_type": "application/json", "source": "",
            "body": json.dumps(firing())}
    response = client.post("/test", data={**data, "send": "Send"})
    assert response.status_code == 403
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == 0
    dry = client.post("/test", data={**data, "dry_run": "Dry run"})
    assert dry.status_code == 200 and "201" in dry.get_data(as_text=True)
