// Passkeys (WebAuthn): <button data-passkey="register|sign-in" data-options=URL data-url=URL>.
// The server gives the options (its challenge stays in the session); the browser's answer goes back
// as JSON with base64url fields, as py_webauthn reads it. No inline script: the page's CSP allows none.
(function () {
  function fromB64(text) {
    var plain = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(plain, function (c) { return c.charCodeAt(0); }).buffer;
  }
  function toB64(buffer) {
    if (!buffer) return null;
    var text = String.fromCharCode.apply(null, new Uint8Array(buffer));
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin", body: body ? JSON.stringify(body) : null,
      headers: {"X-CSRFToken": csrf(), "Content-Type": "application/json", "Accept": "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return {error: r.status + " " + r.statusText}; });
      });
  }
  function ids(list) {
    (list || []).forEach(function (item) { item.id = fromB64(item.id); });
  }
  function answer(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response: {clientDataJSON: toB64(r.clientDataJSON)}};
    if (r.attestationObject) {
      out.response.attestationObject = toB64(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64(r.authenticatorData);
      out.response.signature = toB64(r.signature);
      if (r.userHandle) out.response.userHandle = toB64(r.userHandle);
    }
    return out;
  }
  function run(button) {
    var register = button.dataset.passkey === "register";
    var problem = button.parentNode.querySelector("[data-passkey-error]") ||
      document.querySelector("[data-passkey-error]");
    function fail(text) {
      button.disabled = false;
      if (problem) { problem.textContent = text; problem.hidden = false; problem.focus && problem.focus(); }
    }
    if (!window.PublicKeyCredential) { fail((problem && problem.dataset.unsupported) || "No passkeys here."); return; }
    button.disabled = true;
    post(button.dataset.options).then(function (options) {
      if (options.error) throw new Error(options.error);
      options.challenge = fromB64(options.challenge);
      if (register) {
        options.user.id = fromB64(options.user.id);
        ids(options.excludeCredentials);
        return navigator.credentials.create({publicKey: options});
      }
      ids(options.allowCredentials);
      return navigator.credentials.get({publicKey: options});
    }).then(function (cred) {
      var body = answer(cred);
      if (register) {
        var name = document.getElementById(button.dataset.name);
        body = {credential: body, name: name ? name.value : ""};
      }
      return post(button.dataset.url, body);
    }).then(function (result) {
      if (result.error) throw new Error(result.error);
      window.location.assign(result.redirect);
    }).catch(function (error) { fail(error.message || String(error)); });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-passkey]");
    if (button) { event.preventDefault(); run(button); }
  });
})();
