// What every test file needs: the server's metadata, the clients' keys and
// a DPoP key, a browser's part of the code flow, done with fetch, and the
// user's part of the device flow, done by the Go test's browser.
//
// LATCHKEY_ISSUER, LATCHKEY_USERNAME, LATCHKEY_PASSWORD,
// LATCHKEY_REDIRECT_URI, LATCHKEY_KEYS ({"<client_id>": {"private":
// JWK}}, as keys.mjs prints it) and LATCHKEY_BROWSER (see userDecides)
// come from oauth4webapi_test.go.
import * as oauth from 'oauth4webapi'

export function env(name) {
  const value = process.env[`LATCHKEY_${name}`]
  if (!value) throw new Error(`LATCHKEY_${name} is not set; run these tests with go test ./e2e/...`)
  return value
}

export const issuer = new URL(env('ISSUER'))
export const redirectURI = env('REDIRECT_URI')

// The issuer is http on loopback; oauth4webapi wants this option for it.
export const insecure = { [oauth.allowInsecureRequests]: true }

// discover reads the authorization server metadata (RFC 8414).
export async function discover() {
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure })
  return oauth.processDiscoveryResponse(issuer, res)
}

// privateKeyJwt is the client authentication of a private_key_jwt client
// with the key keys.mjs made for it (RFC 7523 §2.2).
export async function privateKeyJwt(clientID) {
  const jwk = JSON.parse(env('KEYS'))[clientID]?.private
  if (!jwk) throw new Error(`LATCHKEY_KEYS holds no key for ${clientID}`)
  const { kid, key_ops, ext, ...material } = jwk
  const key = await crypto.subtle.importKey('jwk', material, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return oauth.PrivateKeyJwt({ key, kid })
}

// newDPoP is a DPoP handle (RFC 9449) on a fresh ES256 key pair.
export async function newDPoP(client) {
  return oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
}

// claims are a JWT's payload, unverified (the tests compare them only).
export function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

// rejection is the error a promise rejects with (or a function throws); it
// fails if there is none.
export async function rejection(promise) {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (err) {
    return err
  }
  throw new Error('expected an error, got none')
}

// signIn plays the browser from url (an authorization request) to the
// redirect back to the client: it follows redirects by hand, keeps cookies,
// fills in the login form and allows on the consent form. It returns the
// URL the browser would land on.
export async function signIn(url) {
  const cookies = new Map()
  const send = async (target, init = {}) => {
    const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(target, { ...init, redirect: 'manual', headers: { ...init.headers, cookie } })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const eq = pair.indexOf('=')
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    return res
  }
  let at = new URL(url)
  let res = await send(at)
  for (let step = 0; step < 10; step++) {
    if (res.status >= 300 && res.status < 400) {
      at = new URL(res.headers.get('location'), at)
      if (at.href.startsWith(redirectURI)) return at
      res = await send(at)
      continue
    }
    const html = await res.text()
    if (res.status !== 200) throw new Error(`${at}: HTTP ${res.status}\n${html}`)
    const form = readForm(html, at)
    if (form.action.pathname.endsWith('/login')) {
      form.fields.set('username', env('USERNAME'))
      form.fields.set('password', env('PASSWORD'))
    } else if (form.action.pathname.endsWith('/consent')) {
      form.fields.set('decision', 'allow')
    } else {
      throw new Error(`${at}: a form to ${form.action} that this test does not know`)
    }
    at = form.action
    res = await send(at, { method: 'POST', body: form.fields, headers: { origin: issuer.origin } })
  }
  throw new Error(`no redirect to ${redirectURI} after 10 steps; last at ${at}`)
}

// readForm finds the first POST form of a page: its action and hidden
// fields (Latchkey's forms carry the request and a CSRF token in them).
function readForm(html, base) {
  const form = html.match(/<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i)
  if (!form) throw new Error(`${base}: no form on the page:\n${html}`)
  const fields = new URLSearchParams()
  for (const [input] of form[2].matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = input.match(/name="([^"]*)"/)[1]
    const value = input.match(/value="([^"]*)"/)?.[1] ?? ''
    fields.set(unescapeHTML(name), unescapeHTML(value))
  }
  return { action: new URL(unescapeHTML(form[1]), base), fields }
}

function unescapeHTML(s) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (all, ref) => {
    if (ref[0] !== '#') return named[ref] ?? all
    return String.fromCodePoint(ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)))
  })
}

// userDecides has the user open verificationURI in a browser, type
// userCode (none when the URI carries it), sign in and press decision
// ('approve' or 'deny'). The browser is the Go test's (LATCHKEY_BROWSER),
// which reads Latchkey's pages as a browser does; it answers with the
// outcome the last page shows.
export async function userDecides(verificationURI, userCode, decision) {
  const res = await fetch(env('BROWSER'), {
    method: 'POST',
    body: new URLSearchParams({ verification_uri: verificationURI, user_code: userCode ?? '', decision }),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`the user's browser at ${verificationURI}: HTTP ${res.status}: ${text}`)
  return text
}
