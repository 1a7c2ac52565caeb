/* Passkeys for staff: add one, or sign in with one as the second step.
 *
 * A form marked data-passkey="register" or "sign-in" has a button and a hidden `credential`
 * field. The button asks the server for options (POST to data-options-url), hands them to the
 * browser's WebAuthn API, puts the answer in the hidden field as JSON and submits the form, so
 * the server answers with an ordinary page.
 *
 * @requires js/common.js
 */
(function () {
  "use strict";
  const vig = (window.vig = window.vig || {});

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    const text = atob(padded);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  function creationOptions(o) {
    return Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      user: Object.assign({}, o.user, { id: toBytes(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials),
    });
  }

  function requestOptions(o) {
    return Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      allowCredentials: descriptors(o.allowCredentials),
    });
  }

  function credentialJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (typeof r.getTransports === "function") response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
    });
  }

  function say(form, text) {
    const status = form.querySelector("[data-passkey-status]");
    if (status) status.textContent = text;
  }

  async function run(form, button) {
    const mode = form.getAttribute("data-passkey");
    button.disabled = true;
    say(form, "Follow what your browser or phone asks…");
    try {
      const answer = await vig.fetchJSON(form.getAttribute("data-options-url"), { method: "POST" });
      if (!answer.ok || !answer.body) throw new Error("options");
      const cred = mode === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(answer.body) })
        : await navigator.credentials.get({ publicKey: requestOptions(answer.body) });
      if (!cred) throw new Error("no credential");
      form.querySelector('input[name="credential"]').value = credentialJSON(cred);
      say(form, "Checking…");
      form.submit();
    } catch (e) {
      button.disabled = false;
      say(form, e && e.name === "NotAllowedError"
        ? "The passkey was cancelled or timed out. Try again, or use another way."
        : "That didn't work. Try again, or use another way.");
    }
  }

  function start() {
    const forms = document.querySelectorAll("form[data-passkey]");
    const supported = !!(window.PublicKeyCredential && navigator.credentials);
    forms.forEach(function (form) {
      const button = form.querySelector("[data-passkey-start]");
      if (!button) return;
      if (!supported) {
        button.disabled = true;
        say(form, "This browser can't use passkeys. Use another way below.");
        return;
      }
      button.addEventListener("click", function (event) {
        event.preventDefault();
        run(form, button);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
