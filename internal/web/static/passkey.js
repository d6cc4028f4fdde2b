// Passkeys for Latchkey's pages: the only script they load. Each form
// marked data-passkey stays hidden unless this browser can use passkeys;
// submitting it fetches the ceremony's options from data-begin (a POST of
// the form's csrf token), asks the browser for the credential, puts its
// JSON into the form's credential field and submits the form. The login
// form with data-conditional also offers passkeys in the username field's
// autofill (conditional mediation) where the browser can.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return; // no passkeys here: the forms stay hidden, passwords work
  }

  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64u(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // decodeOptions turns the server's JSON options into what
  // navigator.credentials takes: the binary members as ArrayBuffers.
  function decodeOptions(pk) {
    pk.challenge = b64uToBuf(pk.challenge);
    if (pk.user && pk.user.id) pk.user.id = b64uToBuf(pk.user.id);
    for (const list of [pk.excludeCredentials, pk.allowCredentials]) {
      for (const c of list || []) c.id = b64uToBuf(c.id);
    }
    return pk;
  }

  // encodeCredential is the credential as JSON (WebAuthn §5.1's
  // RegistrationResponseJSON / AuthenticationResponseJSON).
  function encodeCredential(cred) {
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: bufToB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64u(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64u(r.authenticatorData);
      out.response.signature = bufToB64u(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64u(r.userHandle);
    }
    return JSON.stringify(out);
  }

  async function begin(form) {
    const body = new URLSearchParams({ csrf: form.elements.csrf.value });
    const resp = await fetch(form.dataset.begin, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" },
    });
    const data = await resp.json().catch(function () { return {}; });
    if (!resp.ok) {
      throw new Error(data.error_description || "The server did not start the passkey request.");
    }
    return data;
  }

  function showError(form, msg) {
    const p = form.querySelector("[data-passkey-error]");
    if (p) {
      p.textContent = msg;
      p.hidden = false;
    }
  }

  function finish(form, cred) {
    form.elements.credential.value = encodeCredential(cred);
    form.submit(); // a navigation: the server answers with the next page
  }

  let conditional = null; // the pending autofill request, if any

  async function run(form) {
    if (conditional) {
      conditional.abort.abort();
      await conditional.begun.catch(function () {}); // its ceremony cookie is set before ours
      conditional = null;
    }
    const opts = await begin(form);
    const pk = decodeOptions(opts.publicKey);
    const cred = form.dataset.passkey === "register"
      ? await navigator.credentials.create({ publicKey: pk })
      : await navigator.credentials.get({ publicKey: pk });
    finish(form, cred);
  }

  async function offerAutofill(form) {
    if (!PublicKeyCredential.isConditionalMediationAvailable ||
        !(await PublicKeyCredential.isConditionalMediationAvailable())) {
      return;
    }
    const abort = new AbortController();
    const begun = begin(form);
    conditional = { abort: abort, begun: begun };
    try {
      const opts = await begun;
      const cred = await navigator.credentials.get({
        publicKey: decodeOptions(opts.publicKey), mediation: "conditional", signal: abort.signal,
      });
      if (cred) finish(form, cred);
    } catch (e) {
      // aborted for the button, or no passkey chosen: nothing to say
    }
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    form.hidden = false;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      run(form).catch(function (e) {
        showError(form, e && e.name === "NotAllowedError"
          ? "The passkey request was cancelled or timed out."
          : (e && e.message) || "The passkey could not be used.");
      });
    });
    if (form.dataset.conditional) offerAutofill(form);
  }
})();
