"""Issue 6 E: a hostile-input corpus, on SQLite and PostgreSQL.

Every case states its SPEC answer. After every case: no 500, every 2xx of the endpoint is
stored (its call id is in the API log), and the server still serves a normal call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from helpers import ALERTMANAGER, firing

MIB = 1024 * 1024
OK = (200, 201, 202, 208)


@dataclass
class Case:
    category: str
    name: str
    method: str = "POST"
    path: str = "/v1/process"
    body: bytes | str | None = b"{}"
    content_type: str | None = "application/json"
    auth: str = "bearer"  # bearer | query | none | raw header value
    query: str = ""
    headers: dict = field(default_factory=dict)
    expect: tuple = OK
    dashboard: bool = False


def j(value) -> bytes:
    return json.dumps(value).encode()


CASES = [
    # size and framing
    Case("size", "empty body", body=b""),
    Case("size", "exactly the limit", body=b'"' + b"a" * (MIB - 2) + b'"', content_type="text/plain"),
    Case("size", "one byte over the limit", body=b"a" * (MIB + 1), expect=(413,)),
    Case("size", "far over the limit", body=b"a" * (4 * MIB), expect=(413,)),
    Case("size", "whitespace only", body=b" \r\n\t " * 1000),
    Case("size", "one NUL", body=b"\x00"),
    Case("size", "a million NULs", body=b"\x00" * (MIB - 10), content_type="text/plain"),
    Case("size", "form body with many fields", body=b"&".join(b"a%d=1" % i for i in range(20000)),
         content_type="application/x-www-form-urlencoded"),
    # encodings and charsets
    Case("charset", "latin-1 declared", body="{\"status\": \"firing\", \"groupKey\": \"é\"}".encode("latin-1"),
         content_type="application/json; charset=latin-1", expect=(201,)),
    Case("charset", "utf-16 with BOM", body="\ufeff{\"status\": \"firing\", \"groupKey\": \"u16\"}".encode("utf-16"),
         content_type="application/json; charset=utf-16", expect=(201,)),
    Case("charset", "utf-16 undeclared", body="{\"a\": 1}".encode("utf-16")),
    Case("charset", "invalid utf-8", body=b'{"status": "firing", "groupKey": "\xff\xfe"}', expect=(201,)),
    Case("charset", "overlong utf-8", body=b'{"x": "\xc0\xaf"}'),
    Case("charset", "CESU surrogate bytes", body=b'{"x": "\xed\xa0\x80"}'),
    *[Case("charset", f"charset={name}", body=j(firing(f"cs-{name}")), content_type=f"application/json; charset={name}",
           expect=(201,)) for name in ("base64", "rot13", "hex", "zlib", "bz2", "uu", "idna", "punycode",
                                       "undefined", "cp1252", "\"utf-8\"", "UTF8")],
    Case("charset", "utf-32 declared, utf-8 sent (read as declared: no rule holds)", body=j(firing("u32")),
         content_type="application/json; charset=utf-32", expect=(202,)),
    Case("charset", "charset parameter 10k long", content_type="application/json; charset=" + "x" * 10000),
    Case("charset", "many parameters", content_type="application/json" + "; a=b" * 500),
    # JSON edges
    Case("json", "nested 64 deep", body=b"[" * 64 + b"]" * 64),
    Case("json", "nested 65 deep", body=b"[" * 65 + b"]" * 65),
    Case("json", "nested 100000 deep", body=b"[" * 100000 + b"]" * 100000),
    Case("json", "unbalanced deep", body=b"{\"a\":" * 50000),
    Case("json", "NaN", body=b'{"status": NaN}'),
    Case("json", "Infinity", body=b'{"status": -Infinity}'),
    Case("json", "integer of 5000 digits", body=b'{"status": "firing", "groupKey": "big", "n": ' + b"9" * 5000 + b"}",
         expect=(201,)),
    Case("json", "float with a huge exponent", body=b'{"n": 1e999999}'),
    Case("json", "duplicate keys", body=b'{"status": "x", "status": "firing", "groupKey": "dup"}', expect=(201,)),
    Case("json", "escaped lone surrogate", body=b'{"status": "firing", "groupKey": "\\udc00"}', expect=(201,)),
    Case("json", "escaped NUL", body=b'{"status": "firing", "groupKey": "a\\u0000b"}', expect=(201,)),
    Case("json", "raw NUL inside a string", body=b'{"status": "firing\x00", "groupKey": "raw"}'),
    Case("json", "BOM then JSON", body=b"\xef\xbb\xbf" + j(firing("bom")), expect=(201,)),
    Case("json", "top-level string", body=b'"firing"'),
    Case("json", "top-level number", body=b"12345"),
    Case("json", "top-level null", body=b"null"),
    Case("json", "array of alerts", body=j([firing("arr")])),
    Case("json", "50000 keys", body=j({f"k{i}": i for i in range(50000)})),
    Case("json", "key with dots and brackets", body=j({"a.b[0]": "firing", "status": "firing", "groupKey": "k.b[0]"}),
         expect=(201,)),
    Case("json", "trailing garbage", body=j(firing("tg")) + b"garbage"),
    Case("json", "string holding deep JSON", body=j({"Message": "[" * 10000 + "]" * 10000})),
    # content types
    *[Case("content-type", ctype, content_type=ctype, body=b"\x89PNG\r\n\x1a\n\x00\x00")
      for ctype in ("image/png", "audio/mpeg", "application/octet-stream", "multipart/form-data; boundary=x",
                    "multipart/form-data", "application/x-www-form-urlencoded", "text/html", "application/xml",
                    "application/vnd.api+json", "application/problem+xml", "*/*", ";;;", "text/plain; charset",
                    "application/json; charset=")],
    Case("content-type", "no content type", content_type=None, body=j(firing("noct")), expect=(201,)),
    Case("content-type", "header of 7000 characters", content_type="text/plain; x=" + "y" * 7000),
    # tokens
    Case("token", "no token", auth="none", expect=(401,)),
    Case("token", "unknown token", auth="Bearer cg_unknown", expect=(401,)),
    Case("token", "empty bearer", auth="Bearer ", expect=(401,)),
    Case("token", "basic scheme", auth="Basic dXNlcjpwYXNz", expect=(401,)),
    Case("token", "bearer in lower case", auth="bearer-lower", expect=OK),
    Case("token", "token of 10000 characters", auth="Bearer cg_" + "a" * 10000, expect=(401,)),
    Case("token", "query token with NUL", auth="none", query="?token=cg_%00", expect=(401,)),
    Case("token", "query token percent-encoded name", auth="encoded-query", expect=OK),
    Case("token", "token twice in the query", auth="none", query="?token=a&token=b", expect=(401,)),
    Case("token", "non-latin header bytes", auth="Bearer \u00e9\u00e9", expect=(401,)),
    # paths and methods
    *[Case("method", f"{method} /v1/process", method=method, expect=(405,))
      for method in ("GET", "PUT", "DELETE", "PATCH")],
    Case("method", "HEAD /v1/process", method="HEAD", body=None, expect=(405,)),
    Case("path", "alias /api/v1/process", path="/api/v1/process", body=j(firing("alias")), expect=(201,)),
    Case("path", "trailing slash", path="/v1/process/", expect=(404, 308)),
    Case("path", "double slash", path="//v1/process", expect=(404, 308, *OK)),
    Case("path", "unknown API path", path="/v1/nothing", method="GET", expect=(404,)),
    Case("path", "encoded path", path="/v1/%70rocess", expect=OK),
    # from
    Case("from", "from with NUL", query="?from=a%00b", body=j(firing("from-nul")), expect=(201,)),
    Case("from", "from with an escaped surrogate", query="?from=%ED%A0%80", body=j(firing("from-sur")), expect=(201,)),
    Case("from", "from of 10000 characters", query="?from=" + "f" * 10000, body=j(firing("from-long")), expect=(201,)),
    Case("from", "from twice", query="?from=a&from=b", body=j(firing("from-2")), expect=(201,)),
    # JSON API query values
    *[Case("api-query", f"GET {path}", method="GET", path=path, body=None, expect=expect)
      for path, expect in (("/v1/incidents?page=99999999999999999999", (400,)), ("/v1/incidents?page=%C2%B2", (400,)),
                           ("/v1/incidents?page=-1", (400,)), ("/v1/incidents?status=%00", (400,)),
                           ("/v1/incidents?service=%00", (404,)), ("/v1/incidents/99999999999999999999", (404,)),
                           ("/v1/incidents/-1", (404,)), ("/v1/incidents/abc", (404,)),
                           ("/v1/incidents?service=" + "s" * 5000, (404,)))],
    Case("api-query", "maintenance until year 9999 -14:00", path="/v1/services/checkout-api/maintenance",
         body=j({"until": "9999-12-31T23:59:59-14:00"}), expect=(400,)),
    Case("api-query", "maintenance body nested", path="/v1/services/checkout-api/maintenance",
         body=b"[" * 100000, expect=(400,)),
    Case("api-query", "maintenance tags not a list", path="/v1/services/checkout-api/maintenance",
         body=j({"tags": {"a": 1}}), expect=(400,)),
    Case("api-query", "maintenance on a NUL service", path="/v1/services/a%00b/maintenance", body=b"{}", expect=(404,)),
    # dashboard query values
    *[Case("dashboard-query", f"GET {path}", method="GET", path=path, body=None, auth="none", expect=expect,
           dashboard=True)
      for path, expect in (("/incidents?page=99999999999999999999", (400,)), ("/incidents?page=%C2%B2", (400,)),
                           ("/incidents?q=%00", (400,)), ("/incidents?q=" + "%25" * 3000, (200,)),
                           ("/incidents?service=99999999999999999999", (400,)), ("/incidents?status=%00", (200,)),
                           ("/incidents/99999999999999999999", (404,)), ("/services/99999999999999999999", (404,)),
                           ("/calls?token=%C2%B2", (400,)), ("/calls?status=99999999999999999999", (400,)),
                           ("/calls/%00", (404,)), ("/calls/" + "a" * 5000, (404,)),
                           ("/login?next=/%09/evil.example", (302,)), ("/incidents/rows?marker=%00", (200,)))],
]


def test_the_corpus_has_at_least_80_cases_in_every_category():
    categories = {}
    for case in CASES:
        categories[case.category] = categories.get(case.category, 0) + 1
    assert len(CASES) >= 80 and len(categories) >= 9, categories


@pytest.fixture
def target(setup_for, dbapp):
    setup = setup_for(dbapp)
    setup.services(ALERTMANAGER)
    client = dbapp.test_client()
    return client, setup, setup.token("corpus")


def send(client, case: Case, token: str):
    headers = dict(case.headers)
    query = case.query
    if case.auth == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif case.auth == "bearer-lower":
        headers["Authorization"] = f"bearer {token}"
    elif case.auth == "encoded-query":
        query = "?tok%65n=" + "".join(f"%{ord(c):02X}" for c in token)
    elif case.auth != "none":
        headers["Authorization"] = case.auth
    kwargs = {"headers": headers}
    if case.body is not None:
        kwargs["data"] = case.body
    if case.content_type is not None and case.body is not None:
        kwargs["content_type"] = case.content_type
    return client.open(case.path + query, method=case.method, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.name}" for c in CASES])
def test_hostile_input(add_user, sign_in, target, case, dbapp):
    client, setup, token = target
    if case.dashboard:
        sign_in(client, *add_user(dbapp))
    response = send(client, case, token)
    assert response.status_code != 500, response.get_data(as_text=True)[:500]
    assert response.status_code in case.expect, (response.status_code, response.get_data(as_text=True)[:300])
    if not case.dashboard and case.path.startswith(("/v1/", "/api/v1/")) and response.status_code != 308:
        if case.method != "HEAD":
            body = response.get_json()
            assert isinstance(body, dict)
            if case.path.endswith("process") and response.status_code in OK:
                stored = setup.query("SELECT status FROM api_calls WHERE id = :id", id=body["id"])
                assert stored == [(response.status_code,)]  # acknowledged means stored
            elif response.status_code >= 400:
                assert set(body) == {"error", "message"}
                assert token not in json.dumps(body)
    check = client.post("/v1/process", json=firing("still-serving"), headers={"Authorization": f"Bearer {token}"})
    assert check.status_code in (201, 208)
