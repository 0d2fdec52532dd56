"""``POST /v1/process`` over HTTP (S1-S33)."""

import json
import logging

import pytest
from helpers import ALERTMANAGER, firing, flags, post

from callgoose.store.models import ApiToken


@pytest.fixture
def token(setup):
    setup.services(ALERTMANAGER)
    return setup.token("alertmanager")


# -- S1-S4: endpoint and authentication ------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/process", "/api/v1/process", "/sqibs-api/v1/process"])
def test_s1_endpoint_and_aliases_create_an_incident(client, token, path):
    response = post(client, token, firing(), path=path)
    assert response.status_code == 201
    assert flags(response) == {"resolved": {"duplicate": False, "resolved": False},
                               "triggered": {"duplicate": False, "created": True}}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/v1/process", "/api/v1/process", "/sqibs-api/v1/process"])
def test_s1_other_methods_get_405_json(client, path, method):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_s2_query_token_works_without_a_header(client, token):
    assert client.post(f"/v1/process?token={token}", json=firing()).status_code == 201


def test_s2_bad_header_token_is_rejected_even_with_a_good_query_token(client, token):
    response = client.post(f"/v1/process?token={token}", json=firing(),
                           headers={"Authorization": "Bearer cg_wrong"})
    assert response.status_code == 401


def test_s2_empty_bearer_header_is_a_bad_token(client, token):
    response = client.post(f"/v1/process?token={token}", json=firing(), headers={"Authorization": "Bearer"})
    assert response.status_code == 401


def test_s2_other_authorization_schemes_fall_back_to_the_query(client, token):
    response = client.post(f"/v1/process?token={token}", json=firing(),
                           headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 201


@pytest.mark.parametrize("headers, query", [
    ({}, ""),
    ({"Authorization": "Bearer cg_unknown_token_value"}, ""),
    ({}, "?token=cg_unknown_token_value"),
    ({"Authorization": "bearer   "}, ""),
])
def test_s3_missing_or_unknown_token_gets_401_and_nothing_is_stored(client, setup, token, headers, query):
    response = client.post("/v1/process" + query, json=firing(), headers=headers)
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "unauthorized" and body["message"]
    assert "cg_unknown" not in response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert setup.query("SELECT count(*) FROM api_calls")[0][0] == 0
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 0


def test_s3_revoked_token_gets_the_same_401(app, client, setup, token):
    unknown = client.post("/v1/process", json=firing(), headers={"Authorization": "Bearer cg_nope"})
    with app.app_context():
        from callgoose.extensions import db
        db.session.execute(ApiToken.__table__.update().values(revoked_at=db.func.now()))
        db.session.commit()
    revoked = post(client, token, firing())
    assert revoked.status_code == 401
    assert revoked.get_json() == unknown.get_json()
    assert revoked.get_data(as_text=True).find(token) == -1


def test_s4_tokens_are_random_prefixed_and_stored_only_as_a_hash(setup, token):
    assert token.startswith("cg_") and len(token) >= 3 + 43  # 32 random bytes, base64url
    assert setup.token() != token
    rows = setup.query("SELECT digest, prefix FROM api_tokens")
    stored = " ".join(" ".join(r) for r in rows)
    assert token not in stored and token[3:] not in stored
    assert rows[0].prefix == token[:9]


def test_s4_logged_urls_redact_the_token(client, token, caplog):
    caplog.set_level(logging.INFO)
    assert client.post(f"/v1/process?from=cron&token={token}", json=firing()).status_code == 201
    logging.getLogger("werkzeug").info("GET /v1/incidents?token=%s&x=1", token)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "token=[REDACTED]" in text and "from=cron" in text
    assert token not in text and token[3:] not in text


# -- S5: scope ----------------------------------------------------------------------------

def test_s5_global_token_runs_every_enabled_service_and_ors_flags(client, setup):
    catch_all = {"trigger": [{"map_incident_with": "groupKey"}]}
    setup.services({"name": "a", **catch_all}, {"name": "b", **catch_all},
                   {"name": "off", "enabled": False, **catch_all})
    token = setup.token()
    assert post(client, token, firing()).status_code == 201
    assert setup.query("SELECT count(*) FROM incidents")[0][0] == 2
    setup.services({"name": "c", **catch_all})
    response = post(client, token, firing(summary="changed"))  # duplicate on a and b, new on c
    assert response.status_code == 201
    assert flags(response)["triggered"] == {"duplicate": True, "created": True}
    names = {r[0] for r in setup.query("SELECT s.name FROM incidents i JOIN services s ON s.id = i.service_id")}
    assert names == {"a", "b", "c"}


def test_s5_service_token_runs_only_its_service(client, setup):
    setup.services({"name": "a", "trigger": [{}]}, {"name": "b", "trigger": [{}]})
    assert post(client, setup.token(service="b"), "x").status_code == 201
    assert setup.query("SELECT s.name FROM incidents i JOIN services s ON s.id = i.service_id") == [("b",)]


# -- S6-S9: bodies --------------------------------------------------------------------------

def test_s6_body_over_the_limit_gets_413_json_and_is_logged(client, setup, token):
    response = post(client, token, "x" * (1024 * 1024 + 1), content_type="text/plain")
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert setup.query("SELECT status, size, payload_digest FROM api_calls") == [(413, 1024 * 1024 + 1, None)]
    assert post(client, token, firing()).status_code == 201


def test_s6_body_at_the_limit_is_accepted(app, client, setup):
    setup.services({"name": "a", "trigger": [{}]})
    response = post(client, setup.token(), "x" * (1024 * 1024), content_type="text/plain")
    assert response.status_code == 201


def test_s6_limit_is_configurable(make_app, setup_for, tmp_path):

    app = make_app(f"sqlite:///{tmp_path / 'small.sqlite'}", tmp_path, MAX_BODY_BYTES=10)
    s = setup_for(app)
    s.services({"name": "a", "trigger": [{}]})
    token = s.token()
    with app.test_client() as c:
        assert post(c, token, "x" * 11, content_type="text/plain").status_code == 413
        assert post(c, token, "x" * 10, content_type="text/plain").status_code == 201


@pytest.mark.parametrize("content_type", ["image/png", "audio/mpeg", "application/octet-stream",
                                          "multipart/form-data; boundary=zz"])
def test_s7_binary_types_are_processed_as_an_empty_payload(client, setup, content_type):
    setup.services({"name": "a", "trigger": [{"title_from": "status"}]})
    body = b'{"status": "firing"}\x89PNG\x00'
    response = post(client, setup.token(), body, content_type=content_type)
    assert response.status_code == 201
    assert setup.query("SELECT content_type, size, payload_digest FROM api_calls") == [(content_type, len(body), None)]
    assert setup.query("SELECT title, description, payload_digest FROM incidents") == [
        ("Incident from unknown source", None, None)]  # no description of its own: the (empty) payload


def test_s7_form_bodies_are_text_and_not_parsed_as_forms(client, setup):
    setup.services({"name": "a", "trigger": [{"conditions": [{"json_key": "", "contains": ["state=down"]}]}]})
    response = post(client, setup.token(), "host=db1&state=down",
                    content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201


def test_s8_json_sent_as_text_plain_is_matched(client, token):
    assert post(client, token, json.dumps(firing()), content_type="text/plain").status_code == 201


@pytest.mark.parametrize("body", [
    "[" * 5000 + "]" * 5000, '{"a": NaN}', "{not json", "\ufeff" + json.dumps({"x": 1}), "",
])
def test_s8_odd_bodies_are_never_an_error(client, token, body):
    assert post(client, token, body, content_type="application/json").status_code == 202


def test_s9_nul_and_lone_surrogates_are_stored(client, setup):
    setup.services({"name": "a", "trigger": [{"title_from": "t", "map_incident_with": "t"}]})
    token = setup.token()
    # A raw NUL becomes U+FFFD, so this text is not JSON: the catch-all holds, the key is absent.
    assert post(client, token, b'{"t": "a\\ud800b\\u0000c"}\x00', content_type="application/json").status_code == 201
    assert post(client, token, b'{"t": "a\\ud800b\\u0000c"}', content_type="application/json").status_code == 201
    assert setup.query("SELECT title, mapping_value FROM incidents ORDER BY id") == [
        ("Incident from unknown source", None), ("a\ufffdb\ufffdc", "a\ufffdb\ufffdc")]
    assert setup.query("SELECT text FROM api_calls JOIN payloads ON digest = payload_digest ORDER BY received_at")[0][0].endswith("}\ufffd")
