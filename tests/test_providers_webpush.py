"""The fake Web Push service against the sender Callgoose will use (pywebpush): a page arrives
decrypted, and each check a real push service makes refuses what it should, with its status."""

from __future__ import annotations

import json
import time

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from providers.webpush import FakePushService
from py_vapid import Vapid, Vapid01
from py_vapid.jwt import sign
from py_vapid.utils import b64urldecode, b64urlencode
from pywebpush import WebPushException, webpush

SUB = "mailto:oncall@example.com"


def vapid_key() -> tuple[Vapid, str]:
    """A VAPID key pair, and its public key as a page's applicationServerKey."""
    key = Vapid()
    key.generate_keys()
    return key, b64urlencode(key.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def send(subscription: dict, key, data: str | None = None, claims: dict | None = None, **kwargs) -> requests.Response:
    """pywebpush's one-call send; its exception on a refusal carries the response we check."""
    try:
        return webpush(subscription, data, vapid_private_key=key, timeout=10,
                       vapid_claims=claims if claims is not None else {"sub": SUB}, **kwargs)
    except WebPushException as exc:
        assert exc.response is not None, exc
        return exc.response


def signed(key: Vapid, claims: dict) -> dict:
    """An RFC 8292 Authorization header over any claims (py_vapid's own sign() refuses bad ones)."""
    public = b64urlencode(key.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    return {"Authorization": f"vapid t={sign(claims, key.private_key)}, k={public}"}


def refused(response: requests.Response, status: int, words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert words in response.json()["message"], response.text


@pytest.fixture
def push():
    with FakePushService() as fake:
        yield fake


def test_a_page_arrives_decrypted_with_its_ttl_urgency_and_topic(push):
    key, public = vapid_key()
    subscription = push.subscribe(public)
    assert set(subscription) == {"endpoint", "expirationTime", "keys"} and subscription["expirationTime"] is None
    assert subscription["endpoint"].startswith(f"{push.origin}/push/")
    page = {"title": "CPU high on db1", "incident": 42, "url": "https://callgoose.example/incidents/42"}

    response = send(subscription, key, json.dumps(page), ttl=300, headers={"Urgency": "high", "Topic": "incident-42"})

    assert response.status_code == 201, response.text
    assert response.headers["Location"].startswith(f"{push.origin}/message/")
    assert response.headers["TTL"] == "300"
    [message] = push.wait(1)
    assert message["json"] == page and message["plaintext"] == json.dumps(page).encode()
    assert (message["ttl"], message["urgency"], message["topic"]) == (300, "high", "incident-42")
    assert message["subscription"] == FakePushService.id_of(subscription) and message["problem"] is None
    assert message["claims"]["sub"] == SUB


def test_a_payload_that_is_not_json_is_kept_as_bytes(push):
    key, public = vapid_key()
    assert send(push.subscribe(public), key, "plain words, not JSON").status_code == 201
    [message] = push.wait(1)
    assert message["plaintext"] == b"plain words, not JSON" and message["json"] is None


def test_an_empty_push_needs_no_encoding_and_carries_nothing(push):
    key, public = vapid_key()
    assert send(push.subscribe(public), key, None, ttl=60).status_code == 201
    [message] = push.wait(1)
    assert message["plaintext"] == b"" and message["ttl"] == 60 and message["urgency"] is None


def test_the_audience_is_the_origin_with_its_port(push):
    """pywebpush makes ``aud`` from the endpoint's scheme and netloc, so a non-default port is
    kept, as RFC 8292 (an RFC 6454 origin) wants; the fake takes exactly that origin."""
    key, public = vapid_key()
    subscription = push.subscribe(public)
    assert send(subscription, key, "hello").status_code == 201
    assert push.wait(1)[0]["claims"]["aud"] == push.origin == f"http://127.0.0.1:{push.port}"

    exp = int(time.time()) + 3600
    for aud in ("http://127.0.0.1", f"{push.origin}/", f"https://127.0.0.1:{push.port}", "http://127.0.0.1:1"):
        response = send(subscription, None, "hello", claims={}, headers=signed(key, {"aud": aud, "exp": exp, "sub": SUB}))
        refused(response, 403, "aud")
    assert len(push.messages) == 1


def test_pywebpush_keeps_the_first_aud_in_a_claims_dict_used_twice(push):
    """webpush() writes ``aud`` into the dict it is given: a sender that reuses one claims dict
    for two push services signs the second page for the first one's origin (and is refused)."""
    key, public = vapid_key()
    claims = {"sub": SUB}
    with FakePushService() as other:
        assert send(push.subscribe(public), key, "first", claims=claims).status_code == 201
        refused(send(other.subscribe(public), key, "second", claims=claims), 403, "aud")
        assert send(other.subscribe(public), key, "third", claims={"sub": SUB}).status_code == 201
        assert [m["plaintext"] for m in other.messages] == [b"third"]


def test_a_key_other_than_the_subscriptions_is_forbidden(push):
    key, public = vapid_key()
    stranger, _ = vapid_key()
    subscription = push.subscribe(public)
    refused(send(subscription, stranger, "hello"), 403, "applicationServerKey")
    assert send(subscription, key, "hello").status_code == 201
    assert len(push.messages) == 1


def test_the_jwt_is_checked(push):
    key, public = vapid_key()
    subscription = push.subscribe(public)
    now = int(time.time())
    good = {"aud": push.origin, "exp": now + 3600, "sub": SUB}

    def attempt(headers: dict) -> requests.Response:
        return send(subscription, None, "hello", claims={}, headers=headers)

    refused(attempt(signed(key, {**good, "exp": now - 60})), 403, "expired")
    refused(attempt(signed(key, {**good, "exp": now + 25 * 3600})), 403, "24 hours")
    refused(attempt(signed(key, {k: v for k, v in good.items() if k != "exp"})), 403, "exp")
    refused(attempt(signed(key, {**good, "sub": "oncall@example.com"})), 403, "sub")
    refused(attempt(signed(key, {k: v for k, v in good.items() if k != "sub"})), 403, "sub")
    header = signed(key, good)["Authorization"]
    token, k = header.removeprefix("vapid t=").split(", k=")
    head, claims, signature = token.split(".")
    forged = {**good, "exp": now + 7200}
    other_claims = b64urlencode(json.dumps(forged).encode())
    refused(attempt({"Authorization": f"vapid t={head}.{other_claims}.{signature}, k={k}"}), 403, "signature")
    alg = b64urlencode(b'{"typ":"JWT","alg":"HS256"}') + "." + claims
    r, s = decode_dss_signature(key.private_key.sign(alg.encode(), ec.ECDSA(hashes.SHA256())))
    raw = b64urlencode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    refused(attempt({"Authorization": f"vapid t={alg}.{raw}, k={k}"}), 403, "ES256")
    # pywebpush's own expiry, 12 hours ahead, is within the 24 hours
    assert attempt(signed(key, good)).status_code == 201
    assert send(subscription, key, "hello").status_code == 201
    assert len(push.messages) == 2


def test_the_status_for_bad_vapid_and_the_clock_can_be_set():
    """``auth_status=401`` answers as autopush does; ``clock`` moves the fake's idea of now."""
    key, public = vapid_key()
    stranger, _ = vapid_key()
    later = time.time() + 13 * 3600
    with FakePushService(auth_status=401, clock=lambda: later) as push:
        subscription = push.subscribe(public)
        refused(send(subscription, stranger, "hello"), 401, "applicationServerKey")
        refused(send(subscription, key, "hello"), 401, "expired")
        assert push.messages == []


def test_a_request_without_vapid_or_with_the_old_webpush_scheme_is_unauthorized(push):
    key, public = vapid_key()
    subscription = push.subscribe(public)
    refused(send(subscription, None, "hello", claims={}), 401, "got scheme ''")
    old = Vapid01(key.private_key).sign({"aud": push.origin, "exp": int(time.time()) + 3600, "sub": SUB})
    assert old["Authorization"].startswith("WebPush ") and old["Crypto-Key"].startswith("p256ecdsa=")
    refused(send(subscription, None, "hello", claims={}, headers=old), 401, "got scheme 'WebPush'")
    half = signed(key, {"aud": push.origin, "exp": int(time.time()) + 3600, "sub": SUB})
    half["Authorization"] = half["Authorization"].split(", k=")[0]
    refused(send(subscription, None, "hello", claims={}, headers=half), 401, "both t and k")
    assert push.messages == []


def test_ttl_is_required(push):
    """pywebpush always sends TTL (0 by default), so this request is made by hand."""
    key, public = vapid_key()
    subscription = push.subscribe(public)
    headers = signed(key, {"aud": push.origin, "exp": int(time.time()) + 3600, "sub": SUB})
    refused(requests.post(subscription["endpoint"], headers=headers, timeout=10), 400, "TTL")
    refused(requests.post(subscription["endpoint"], headers={**headers, "TTL": "soon"}, timeout=10), 400, "TTL")
    refused(requests.post(subscription["endpoint"], headers={**headers, "TTL": "-1"}, timeout=10), 400, "TTL")
    assert requests.post(subscription["endpoint"], headers={**headers, "TTL": "0"}, timeout=10).status_code == 201
    assert [m["ttl"] for m in push.messages] == [0]


def test_urgency_topic_and_content_encoding_are_checked(push):
    key, public = vapid_key()
    subscription = push.subscribe(public)
    refused(send(subscription, key, "hello", headers={"Urgency": "urgent"}), 400, "Urgency")
    refused(send(subscription, key, "hello", headers={"Topic": "t" * 33}), 400, "Topic")
    refused(send(subscription, key, "hello", headers={"Topic": "incident 42"}), 400, "Topic")
    refused(send(subscription, key, "hello", content_encoding="aesgcm"), 400, "aes128gcm")
    for urgency in ("very-low", "low", "normal", "high"):
        assert send(subscription, key, urgency, headers={"Urgency": urgency, "Topic": "t" * 32}).status_code == 201
    assert [m["urgency"] for m in push.messages] == ["very-low", "low", "normal", "high"]


def test_the_body_may_be_4096_octets(push):
    """RFC 8291: 4096 octets of body hold 3993 of plaintext (86 of header, 1 delimiter, 16 tag)."""
    key, public = vapid_key()
    subscription = push.subscribe(public)
    refused(send(subscription, key, "x" * 3994), 413, "4096")
    assert send(subscription, key, "x" * 3993).status_code == 201
    [message] = push.wait(1)
    assert len(message["body"]) == 4096 and message["plaintext"] == b"x" * 3993


def test_an_unsubscribed_or_unknown_endpoint_is_gone(push):
    key, public = vapid_key()
    subscription = push.subscribe(public)
    assert send(subscription, key, "before").status_code == 201
    push.unsubscribe(FakePushService.id_of(subscription))
    refused(send(subscription, key, "after"), 410, "subscription")
    unknown = {**subscription, "endpoint": f"{push.origin}/push/no-such-subscription"}
    refused(send(unknown, key, "never"), 410, "subscription")
    assert [m["plaintext"] for m in push.messages] == [b"before"]


def test_a_body_encrypted_for_other_keys_is_accepted_but_cannot_be_read(push):
    """A push service cannot read a payload, so it takes it; the browser could not decrypt it,
    and the fake records why."""
    key, public = vapid_key()
    subscription = push.subscribe(public)
    others = push.subscribe(public)
    assert send({**others, "endpoint": subscription["endpoint"]}, key, "for someone else").status_code == 201
    [message] = push.wait(1)
    assert message["plaintext"] is None and message["json"] is None and "decrypt" in message["problem"]
    assert push.problems == [message["problem"]]


def test_a_body_of_several_records_or_a_cut_one_cannot_be_read(push):
    """RFC 8291 wants one record ending in the delimiter 0x02; http_ece with a small record size
    makes several, and their first alone ends in 0x01 (a body cut short)."""
    key, public = vapid_key()
    subscription = push.subscribe(public)
    keys = subscription["keys"]
    body = http_ece.encrypt(b"x" * 100, private_key=ec.generate_private_key(ec.SECP256R1()), rs=64,
                            dh=b64urldecode(keys["p256dh"].encode()), auth_secret=b64urldecode(keys["auth"].encode()))
    headers = {**signed(key, {"aud": push.origin, "exp": int(time.time()) + 3600, "sub": SUB}),
               "TTL": "60", "Content-Encoding": "aes128gcm"}
    for data in (body, body[:86 + 64]):
        assert requests.post(subscription["endpoint"], data=data, headers=headers, timeout=10).status_code == 201
    assert [m["plaintext"] for m in push.wait(2)] == [None, None]
    assert "single record" in push.problems[0] and "delimiter" in push.problems[1], push.problems


def test_fail_next_answers_429_then_500_then_delivers(push):
    key, public = vapid_key()
    subscription = push.subscribe(public)
    push.fail_next(429, count=2, retry_after=7)
    push.fail_next(500)
    first, second = send(subscription, key, "1"), send(subscription, key, "2")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7") and second.status_code == 429
    assert send(subscription, key, "3").status_code == 500
    assert send(subscription, key, "4").status_code == 201
    assert [m["plaintext"] for m in push.messages] == [b"4"]
    assert [r["status"] for r in push.requests] == [429, 429, 500, 201]


def test_subscribe_wants_an_uncompressed_p256_key(push):
    _, public = vapid_key()
    with pytest.raises(ValueError):
        push.subscribe(public[:-4])
    with pytest.raises(ValueError):
        push.subscribe("not base64url!")
