"""A Web Push service on loopback for the webpush contact method's tests.

It checks each push as Mozilla's autopush and FCM's web push endpoint do (RFC 8030 requests,
RFC 8292 VAPID, RFC 8291 aes128gcm bodies), and it plays the browser too: it makes subscriptions
as ``pushManager.subscribe()`` would and decrypts what arrives with the subscription's keys, so a
test sees the page a service worker would get.

Choices where real services differ (a sender should treat each pair alike):
- Invalid VAPID (signature, ``aud``, ``exp``, ``sub``, a key other than the subscription's) is
  403, as RFC 8292 section 4.2 suggests and FCM answers; autopush answers 401 for all of these.
  ``auth_status=401`` makes the fake answer like autopush.
- No Authorization, or the pre-RFC ``WebPush <JWT>`` + ``Crypto-Key: p256ecdsa=`` form, is 401:
  autopush still takes the old form, but pywebpush sends ``vapid t=, k=`` and so must Callgoose.
- An unknown endpoint is 410 like an unsubscribed one (autopush says 404 for a malformed one).
- A body must be ``aes128gcm`` (RFC 8291); the older ``aesgcm`` that autopush still takes is 400.
- A body the browser could not decrypt is still 201 (a push service cannot read it), and the
  reason lands in ``problems``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from http import HTTPStatus

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from receivers import _Loopback, _Server

MAX_BODY = 4096  # RFC 8030 section 7.2: what every push service must take
MAX_TTL = 60 * 24 * 3600  # autopush keeps a message at most 60 days and says so in its TTL answer
MAX_EXP_AHEAD = 24 * 3600  # RFC 8292 section 2: a JWT expires at most 24 hours after the request
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 section 5.3
HEADER_LENGTH = 86  # aes128gcm: salt 16, rs 4, idlen 1, keyid 65 (RFC 8291 section 4)


class Refusal(Exception):
    """A push answered with an error status and a JSON body saying why, as autopush does."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def b64url(text: str) -> bytes:
    """Base64url with or without padding; anything else (``+``, ``/``, spaces) is an error."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    bare = text.rstrip("=")
    return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))


def unb64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def p256_point(raw: bytes) -> ec.EllipticCurvePublicKey:
    """An uncompressed P-256 public key (65 octets, 0x04 first), as ``k`` and p256dh are."""
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError("not an uncompressed P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def decrypt(body: bytes, private: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """What the browser does with a push (RFC 8291 over RFC 8188): one record, keyed by ECDH
    between the subscription's key and the sender's one-off key, and the auth secret."""
    if len(body) < HEADER_LENGTH + 17:
        raise ValueError("shorter than an aes128gcm header and one record")
    salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    if idlen != 65:
        raise ValueError(f"keyid is {idlen} octets, not the sender's 65-octet P-256 key")
    sender, record = body[21:HEADER_LENGTH], body[HEADER_LENGTH:]
    if rs < 18 or len(record) > rs:
        raise ValueError(f"not a single record (rs {rs}, {len(record)} octets)")
    secret = private.exchange(ec.ECDH(), p256_point(sender))
    info = b"WebPush: info\x00" + raw_public(private) + sender
    ikm = HKDF(hashes.SHA256(), 32, salt=auth, info=info).derive(secret)
    key = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(ikm)
    try:
        padded = AESGCM(key).decrypt(nonce, record, None)
    except InvalidTag:
        raise ValueError("the tag does not match: encrypted for other keys") from None
    content = padded.rstrip(b"\x00")
    if not content or content[-1] != 2:
        raise ValueError("the record lacks the last-record delimiter 0x02")
    return content[:-1]


class FakePushService(_Loopback):
    """Endpoints ``POST /push/<id>``; a page is recorded in ``messages`` once accepted, every
    request in ``requests`` with its status and the reason of a refusal."""

    def __init__(self, auth_status: int = 403, clock: Callable[[], float] = time.time):
        self.auth_status, self.clock = auth_status, clock
        self.subscriptions: dict[str, dict] = {}
        self.messages: list[dict] = []
        self.requests: list[dict] = []
        self.problems: list[str] = []  # payloads the browser could not have read
        self.failures: list[tuple[int, int | None]] = []  # (status, Retry-After) for the next requests
        self.lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                extra: dict[str, str] = {}
                try:
                    status, extra = fake._handle(self.path, self.headers, self._body)
                    doc = None
                except Refusal as refusal:
                    status, doc = refusal.status, {"code": refusal.status, "error": HTTPStatus(refusal.status).phrase,
                                                   "message": refusal.message}
                    if refusal.retry_after is not None:
                        extra = {"Retry-After": str(refusal.retry_after)}
                payload = json.dumps(doc).encode() if doc else b""
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                if doc:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    self.close_connection = True
                    raise Refusal(411, "send a Content-Length")
                length = self.headers.get("Content-Length") or "0"
                if not length.isdigit():
                    self.close_connection = True
                    raise Refusal(400, f"Content-Length is {length!r}")
                length = int(length)
                if length > 16 * MAX_BODY:
                    self.close_connection = True  # not read: the connection cannot be reused
                    raise Refusal(413, f"the body is {length} octets; at most {MAX_BODY}")
                return self.rfile.read(length)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"  # what a JWT's aud must be (RFC 6454 form)

    def __enter__(self):
        # a short poll interval: the shutdown at the end of each test waits for one poll
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    # -- the browser's side ------------------------------------------------------------------

    def subscribe(self, application_server_key: str) -> dict:
        """``pushManager.subscribe({applicationServerKey})`` then ``subscription.toJSON()``."""
        server_key = b64url(application_server_key)
        p256_point(server_key)  # a browser refuses anything else (InvalidAccessError)
        private, auth = ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16)
        sid = secrets.token_urlsafe(16)
        with self.lock:
            self.subscriptions[sid] = {"server_key": server_key, "private": private, "auth": auth}
        return {"endpoint": f"{self.origin}/push/{sid}", "expirationTime": None,
                "keys": {"p256dh": unb64url(raw_public(private)), "auth": unb64url(auth)}}

    def unsubscribe(self, subscription_id: str) -> None:
        with self.lock:
            self.subscriptions.pop(subscription_id, None)

    @staticmethod
    def id_of(subscription: dict) -> str:
        return subscription["endpoint"].rsplit("/", 1)[1]

    # -- knobs and waiting -------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``count`` pushes with ``status`` (429 or 5xx) before any check."""
        with self.lock:
            self.failures.extend([(status, retry_after)] * count)

    def wait(self, count: int, timeout: float = 10) -> list[dict]:
        """The accepted messages once there are ``count`` of them (fails after ``timeout``)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.messages) >= count, timeout), self.requests
            return list(self.messages)

    # -- the push service's side -------------------------------------------------------------

    def _handle(self, path: str, headers, read: Callable[[], bytes]) -> tuple[int, dict[str, str]]:
        record = {"path": path, "headers": dict(headers), "at": time.time(), "subscription": None}
        try:
            message = self._check(path, headers, read(), record)
        except Refusal as refusal:
            self._log({**record, "status": refusal.status, "reason": refusal.message})
            raise
        with self.lock:
            self.messages.append(message)
            if message["problem"]:
                self.problems.append(message["problem"])
        self._log({**record, "status": 201, "reason": None})
        return 201, {"Location": f"{self.origin}/message/{message['id']}", "TTL": str(min(message["ttl"], MAX_TTL))}

    def _log(self, record: dict) -> None:
        with self.lock:
            self.requests.append(record)
            self.lock.notify_all()

    def _check(self, path: str, headers, body: bytes, record: dict) -> dict:
        match = re.fullmatch(r"/push/([A-Za-z0-9_-]+)", path)
        if match is None:
            raise Refusal(404, "not a push endpoint")
        record["subscription"] = sid = match.group(1)
        with self.lock:
            if self.failures:
                status, retry_after = self.failures.pop(0)
                raise Refusal(status, "failing on purpose (fail_next)", retry_after)
            subscription = self.subscriptions.get(sid)
        if subscription is None:
            raise Refusal(410, "no such subscription: unsubscribed, expired or never made")
        claims = self._vapid(headers.get("Authorization"), subscription["server_key"])
        ttl = headers.get("TTL")
        if ttl is None or not re.fullmatch(r"[0-9]+", ttl.strip()):
            raise Refusal(400, f"TTL header is required, a number of seconds (RFC 8030 5.2); got {ttl!r}")
        urgency, topic = headers.get("Urgency"), headers.get("Topic")
        if urgency is not None and urgency not in URGENCIES:
            raise Refusal(400, f"Urgency must be one of {', '.join(URGENCIES)}; got {urgency!r}")
        if topic is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic):
            raise Refusal(400, f"Topic must be 1-32 base64url characters (RFC 8030 5.4); got {topic!r}")
        if len(body) > MAX_BODY:
            raise Refusal(413, f"the body is {len(body)} octets; at most {MAX_BODY}")
        if body and headers.get("Content-Encoding") != "aes128gcm":
            raise Refusal(400, f"a body needs Content-Encoding: aes128gcm (RFC 8291); got {headers.get('Content-Encoding')!r}")
        plaintext, problem, parsed = b"", None, None
        if body:
            try:
                plaintext = decrypt(body, subscription["private"], subscription["auth"])
            except ValueError as exc:
                plaintext, problem = None, f"the browser cannot decrypt it: {exc}"
        if plaintext:
            try:
                parsed = json.loads(plaintext)
            except ValueError:
                parsed = None
        return {"id": secrets.token_urlsafe(12), "subscription": sid, "ttl": int(ttl), "urgency": urgency,
                "topic": topic, "body": body, "plaintext": plaintext, "json": parsed, "problem": problem,
                "claims": claims, "headers": dict(headers), "at": time.time()}

    def _vapid(self, header: str | None, server_key: bytes) -> dict:
        """RFC 8292: ``vapid t=<JWT>, k=<key>``, the key the subscription was made with, an ES256
        JWT signed by it for this origin, expiring within 24 hours, with a contact ``sub``."""
        scheme, _, params = (header or "").strip().partition(" ")
        if scheme.lower() != "vapid":
            raise Refusal(401, f"needs Authorization: vapid t=<JWT>, k=<key> (RFC 8292); got scheme {scheme!r}")
        parts = dict(item.strip().partition("=")[::2] for item in params.split(","))
        if not parts.get("t") or not parts.get("k"):
            raise Refusal(401, "vapid authorization needs both t and k")
        denied = self.auth_status
        try:
            key = b64url(parts["k"])
            public = p256_point(key)
        except ValueError:
            raise Refusal(denied, "vapid k is not a base64url uncompressed P-256 public key") from None
        if key != server_key:
            raise Refusal(denied, "vapid k is not the applicationServerKey this subscription was made with")
        pieces = parts["t"].split(".")
        try:
            head, claims, signature = json.loads(b64url(pieces[0])), json.loads(b64url(pieces[1])), b64url(pieces[2])
        except (ValueError, IndexError):
            raise Refusal(denied, "vapid t is not a JWT") from None
        if len(pieces) != 3 or not isinstance(head, dict) or head.get("alg") != "ES256" or len(signature) != 64:
            raise Refusal(denied, "vapid t is not an ES256 JWT")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public.verify(der, f"{pieces[0]}.{pieces[1]}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refusal(denied, "the JWT signature does not verify with k") from None
        if not isinstance(claims, dict):
            raise Refusal(denied, "the JWT claims are not an object")
        if claims.get("aud") != self.origin:
            raise Refusal(denied, f"JWT aud must be this push service's origin {self.origin}; got {claims.get('aud')!r}")
        exp, now = claims.get("exp"), self.clock()
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise Refusal(denied, f"JWT exp must be a number; got {exp!r}")
        if exp <= now:
            raise Refusal(denied, f"the JWT expired {now - exp:.0f} s ago")
        if exp > now + MAX_EXP_AHEAD:
            raise Refusal(denied, "JWT exp is more than 24 hours ahead")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not re.match(r"(mailto:[^@\s]+@[^@\s]+|https://\S+)$", sub):
            raise Refusal(denied, f"JWT sub must be a mailto: or https: contact; got {sub!r}")
        return claims
