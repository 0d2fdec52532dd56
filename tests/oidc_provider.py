"""A real OpenID provider for the tests: the npm registry's ``oidc-provider`` under the
machine's Node.js (tests/oidc/provider.js), on a free loopback port, driven through its
development login and consent forms with requests (the browser's part)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from servers import free_port

HERE = Path(__file__).parent / "oidc"
NODE = shutil.which("node")
CLIENT_ID, CLIENT_SECRET = "callgoose", "a client secret for the tests"
SKIP = ("the OpenID provider tests need Node.js and tests/oidc/node_modules "
        "(npm ci --prefix tests/oidc; .ci/run does it)")


def available() -> bool:
    return NODE is not None and (HERE / "node_modules" / "oidc-provider").is_dir()


class Provider:
    """``oidc-provider`` with one confidential client and ``accounts`` (login name -> claims)."""

    def __init__(self, redirect_uri: str, accounts: dict, log: Path):
        if not available():
            pytest.skip(SKIP)
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.redirect_uri = redirect_uri
        env = {**os.environ, "PORT": str(self.port), "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
               "REDIRECT_URI": redirect_uri, "ACCOUNTS": json.dumps(accounts), "NODE_ENV": "test"}
        self.log = log
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([NODE, str(HERE / "provider.js")], cwd=HERE, env=env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.issuer + "/.well-known/openid-configuration", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("oidc-provider did not start:\n" + log.read_text(errors="replace"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def sign_in(self, authorization_url: str, login: str) -> str:
        """Follow the browser's way from the authorization request through the login and consent
        forms; the URL the provider sends it back to (this server's callback, with a code)."""
        browser = requests.Session()
        answer = browser.get(authorization_url, allow_redirects=False, timeout=10)
        for _ in range(12):
            location = answer.headers.get("Location")
            if location:
                target = urljoin(answer.url, location)
                if target.startswith(self.redirect_uri):
                    return target
                answer = browser.get(target, allow_redirects=False, timeout=10)
                continue
            page = answer.text
            form = re.search(r'<form[^>]*action="([^"]+)"', page)
            prompt = re.search(r'name="prompt" value="(\w+)"', page)
            assert form and prompt, (answer.status_code, page[:2000])
            data = {"prompt": prompt[1]}
            if prompt[1] == "login":
                data.update(login=login, password="any password")
            answer = browser.post(urljoin(answer.url, html.unescape(form[1])), data=data, allow_redirects=False,
                                  timeout=10)
        raise AssertionError("the provider never sent the browser back")
