"""Real parts on loopback for the paging tests: an SMTP server (aiosmtpd), a webhook receiver
that checks signatures and delivery ids, and a Twilio-compatible API that checks each request
against what Twilio documents and calls back as Twilio would."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd's handler: every message it received, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()  # addresses answered 550
        self.arrived = threading.Condition()
        self.times: list[float] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.times.append(time.time())
            self.arrived.notify_all()
        return "250 Message accepted"

    def wait(self, count: int, timeout: float = 10) -> list:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        return self.messages


class SmtpServer:
    """aiosmtpd on loopback; ``kwargs`` reach its Controller (``ssl_context`` for implicit TLS,
    ``tls_context`` and ``require_starttls`` for STARTTLS, ``auth_...`` for a login)."""

    def __init__(self, **kwargs):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Loopback:
    """An HTTP server on a loopback port, serving from a thread while the ``with`` lasts."""

    server: _Server

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver(_Loopback):
    """Records POSTs; answers from ``statuses`` in turn (then 200). Checks the signature of
    each request against ``secret`` when one is given."""

    def __init__(self, secret: str | None = None, statuses: list[int] | None = None, on_request=None):
        self.secret = secret
        self.on_request = on_request  # called before each answer
        self.statuses = list(statuses or [])
        self.requests: list[dict] = []
        self.lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {"path": self.path, "headers": dict(self.headers), "body": body,
                          "json": json.loads(body), "signature_ok": None, "at": time.time()}
                if receiver.secret is not None:
                    record["signature_ok"] = verify(receiver.secret, self.headers.get("Callgoose-Signature", ""), body)
                if receiver.on_request is not None:
                    receiver.on_request()
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    record["answered"] = status
                    receiver.requests.append(record)
                    receiver.lock.notify_all()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self):  # a ping (HEALTH_PING_URL): recorded, answered like a POST
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append({"path": self.path, "method": "GET", "headers": dict(self.headers),
                                              "at": time.time(), "answered": status})
                    receiver.lock.notify_all()
                if receiver.drip:  # a receiver that answers one byte at a time, slowly
                    for byte in f"HTTP/1.1 {status} OK\r\n".encode():
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if receiver.stopped.wait(receiver.drip):
                            return
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, count: int, timeout: float = 10) -> list:
        """The requests once there are ``count`` of them (fails after ``timeout`` seconds)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return list(self.requests)

    drip = 0.0  # GET: seconds between the bytes of the answer (0: answer at once)

    def __enter__(self):
        self.stopped = threading.Event()
        return super().__enter__()

    def __exit__(self, *exc):
        self.stopped.set()
        super().__exit__(*exc)


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = 300) -> bool:
    """How a receiver checks ``Callgoose-Signature`` (the README's snippet, in Python)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    if abs((now or time.time()) - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def twilio_signature(token: str, url: str, params: dict) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class FakeTwilio(_Loopback):
    """A Twilio-compatible REST API: Messages.json and Calls.json, checked as Twilio documents
    them (POST, form-encoded, basic auth of the account SID and auth token, To in E.164, From,
    Body or Url), answering 201 with a JSON resource, or 400/401 as Twilio does."""

    CALL_ENDS = ("answered", "no-answer", "busy", "failed", "canceled")
    SMS_ENDS = ("delivered", "undelivered", "failed")
    CALL_EVENTS = ("initiated", "ringing", "answered", "completed")

    def __init__(self, sid: str = "AC" + "0" * 32, token: str = "twilio-test-token", call_back: bool = False):
        self.sid, self.token = sid, token
        self.messages: list[dict] = []
        self.calls: list[dict] = []
        self.problems: list[str] = []
        # How each call or SMS to a number ends (``ends["+1415..."] = "no-answer"``); a call is
        # answered and an SMS delivered unless said otherwise.
        self.ends: dict[str, str] = {}
        self.pending: list[tuple[str, dict]] = []  # status callbacks not yet made: (url, params)
        self.reported: list[tuple[str, dict, int]] = []  # those made: (url, params, our answer's status)
        self.call_back = call_back  # make them at once, over HTTP, to a real URL (a live server)
        self.replies = 0  # incoming SMS made up so far (each gets its own MessageSid)
        self.lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, doc: dict):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                lists = parse_qs(raw, keep_blank_values=True)
                form = {k: v[0] for k, v in lists.items()}
                # One event per parameter, or several in one separated by spaces: both read alike.
                events = [word for value in lists.get("StatusCallbackEvent", []) for word in value.split()]
                if set(events) - set(fake.CALL_EVENTS):
                    fake.problems.append(f"StatusCallbackEvent {events}")
                if form.get("StatusCallback") and not re.fullmatch(r"https?://[^\s/]+/\S*", form["StatusCallback"]):
                    fake.problems.append(f"StatusCallback {form['StatusCallback']}")
                if form.get("StatusCallbackMethod", "POST") not in ("GET", "POST"):
                    fake.problems.append(f"StatusCallbackMethod {form['StatusCallbackMethod']}")
                expected = "Basic " + base64.b64encode(f"{fake.sid}:{fake.token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    fake.problems.append(f"content type {self.headers.get('Content-Type')}")
                match = re.fullmatch(rf"/2010-04-01/Accounts/{fake.sid}/(Messages|Calls)\.json", self.path)
                if match is None:
                    return self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                if not re.fullmatch(r"\+[1-9]\d{6,14}", form.get("To", "")):
                    return self._answer(400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is not a valid phone number.", "status": 400})
                if not form.get("From"):
                    return self._answer(400, {"code": 21603, "message": "A 'From' phone number is required.", "status": 400})
                if match.group(1) == "Messages":
                    if not form.get("Body"):
                        return self._answer(400, {"code": 21602, "message": "Message body is required.", "status": 400})
                    sid = f"SM{len(fake.messages):032d}"
                    with fake.lock:
                        fake.messages.append({**form, "sid": sid})
                        fake._plan_sms({**form, "sid": sid})
                        fake.lock.notify_all()
                    self._answer(201, {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"],
                                       "body": form["Body"], "account_sid": fake.sid})
                    return fake._after_answer()
                if not (form.get("Url") or form.get("Twiml")):
                    return self._answer(400, {"code": 21205, "message": "Url parameter is required.", "status": 400})
                sid = f"CA{len(fake.calls):032d}"
                with fake.lock:
                    fake.calls.append({**form, "sid": sid, "StatusCallbackEvent": events})
                    fake._plan_call({**form, "sid": sid}, events)
                    fake.lock.notify_all()
                self._answer(201, {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"],
                                   "account_sid": fake.sid})
                return fake._after_answer()

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- status callbacks, as Twilio makes them ------------------------------------------------

    def _plan_call(self, call: dict, events: list[str]) -> None:
        """The status callbacks of a call that carried StatusCallback: answered, Twilio reports
        ``in-progress`` (when the ``answered`` event was asked for) and then ``completed``;
        otherwise only how it ended (``no-answer``, ``busy``, ``failed``, ``canceled``), which
        Twilio sends as the completed event whatever events were asked for."""
        if not call.get("StatusCallback"):
            return
        end = self.ends.get(call["To"], "answered")
        assert end in self.CALL_ENDS, end
        base = {"AccountSid": self.sid, "CallSid": call["sid"], "From": call["From"], "To": call["To"],
                "Direction": "outbound-api", "ApiVersion": "2010-04-01", "CallbackSource": "call-progress-events"}
        steps = []
        if end == "answered":
            if "answered" in events:
                steps.append({"CallStatus": "in-progress"})
            steps.append({"CallStatus": "completed", "CallDuration": "14"})
        else:
            steps.append({"CallStatus": end, "CallDuration": "0"})
        for number, step in enumerate(steps):
            self.pending.append((call["StatusCallback"], {**base, **step, "SequenceNumber": str(number)}))

    def _plan_sms(self, message: dict) -> None:
        """An SMS's status callbacks: ``sent``, then ``delivered``, ``undelivered`` or ``failed``
        (the last two with Twilio's ErrorCode)."""
        if not message.get("StatusCallback"):
            return
        end = self.ends.get(message["To"], "delivered")
        assert end in self.SMS_ENDS, end
        base = {"AccountSid": self.sid, "MessageSid": message["sid"], "SmsSid": message["sid"],
                "From": message["From"], "To": message["To"], "ApiVersion": "2010-04-01"}
        self.pending.append((message["StatusCallback"], {**base, "MessageStatus": "sent", "SmsStatus": "sent"}))
        final = {**base, "MessageStatus": end, "SmsStatus": end}
        if end != "delivered":
            final["ErrorCode"] = "30003" if end == "undelivered" else "30008"
        self.pending.append((message["StatusCallback"], final))

    def _after_answer(self) -> None:
        if self.call_back:
            threading.Thread(target=self.report, args=(None,), daemon=True).start()

    def report(self, client, sign: bool = True) -> list[int]:
        """Make the status callbacks not yet made, in order, signed as Twilio signs them (to a
        Flask test client, or over HTTP when ``client`` is None); our answers' statuses."""
        with self.lock:
            pending, self.pending = self.pending, []
        statuses = []
        for url, params in pending:
            status, _ = self._signed_post(client, url, params, sign)
            statuses.append(status)
            with self.lock:
                self.reported.append((url, params, status))
                self.lock.notify_all()
        return statuses

    # -- calling back, as Twilio would -------------------------------------------------------

    def _signed_post(self, client, url: str, params: dict, sign: bool = True):
        """POST to our app (a Flask test client, or a real URL) with Twilio's signature."""
        headers = {"X-Twilio-Signature": twilio_signature(self.token, url, params)} if sign else {}
        if client is None:
            request = urllib.request.Request(url, data=urlencode(params).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as exc:  # a 403 for a forged callback is an answer too
                return exc.code, exc.read().decode()
        path = urlsplit(url)
        response = client.post(path.path + (f"?{path.query}" if path.query else ""), data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    def fetch(self, client, call: dict, sign: bool = True) -> ET.Element:
        """Fetch a placed call's TwiML as Twilio does when the call is answered (signed)."""
        params = {"AccountSid": self.sid, "CallSid": call["sid"], "From": call["From"], "To": call["To"],
                  "CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        status, text = self._signed_post(client, call["Url"], params, sign)
        assert status == 200, text
        twiml = ET.fromstring(text)
        assert twiml.tag == "Response"
        _check_says(twiml)
        return twiml

    def answer(self, client, call: dict, digits: str | None) -> tuple[ET.Element, ET.Element | None]:
        """Answer a placed call: fetch its TwiML, check it, press ``digits`` in its Gather."""
        params = {"AccountSid": self.sid, "CallSid": call["sid"], "From": call["From"], "To": call["To"],
                  "CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        twiml = self.fetch(client, call)
        gather = twiml.find("Gather")
        assert gather is not None and gather.get("numDigits") == "1" and gather.get("action")
        assert gather.find("Say") is not None and gather.find("Say").text
        if digits is None:
            return twiml, None
        status, text = self._signed_post(client, gather.get("action"), {**params, "Digits": digits})
        assert status == 200, text
        answered = ET.fromstring(text)
        _check_says(answered)
        return twiml, answered

    def reply_sms(self, client, url: str, from_number: str, body: str, sign: bool = True, sid: str | None = None):
        """An incoming SMS, as Twilio posts it: each has its own ``MessageSid`` unless ``sid``
        is given (the same one again is a replay)."""
        with self.lock:
            self.replies += 1
            sid = sid or f"SM{self.replies:032x}"
        params = {"AccountSid": self.sid, "MessageSid": sid, "From": from_number,
                  "To": "+15005550006", "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        return self._signed_post(client, url, params, sign)


def _check_says(twiml: ET.Element) -> None:
    """What Twilio checks of a ``<Say>``: a Google or Polly voice must speak the ``language``
    given (``Google.de-DE-Standard-A`` with ``de-DE``); a mismatch fails the verb."""
    for said in twiml.iter("Say"):
        voice, language = said.get("voice") or "", said.get("language") or "en-US"
        if voice.startswith("Google."):
            assert voice[len("Google."):].rsplit("-", 2)[0] == language, (voice, language)
        else:
            assert voice in ("", "man", "woman", "alice") or voice.startswith("Polly."), voice


def self_signed(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, made with openssl; (cert, key) paths."""
    import subprocess
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class DripReceiver:
    """A webhook receiver that reads each request, then answers one byte every ``gap`` seconds
    (for up to ``limit`` seconds): a slow receiver that a per-read timeout never catches."""

    def __init__(self, gap: float = 1.0, limit: float = 60.0):
        self.gap, self.limit = gap, limit
        self.requests: list[float] = []  # when each request had arrived in full
        self.arrived = threading.Condition()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/drip"

    def _serve(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            with self.arrived:
                self.requests.append(time.time())
                self.arrived.notify_all()
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            ends = time.monotonic() + self.limit
            for byte in answer:
                if self._stop.wait(self.gap) or time.monotonic() > ends:
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def wait(self, count: int, timeout: float = 10) -> list[float]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        return self.requests

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def release(self):
        """End every drip now (the senders waiting on it get their connection closed)."""
        self._stop.set()

    def __exit__(self, *exc):
        self._stop.set()
        self._listener.close()
