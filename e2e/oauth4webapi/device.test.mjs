// The device authorization grant (RFC 8628) with oauth4webapi's own
// device functions, for a public client (tv) and a confidential one with
// private_key_jwt (box). The Go test's browser does the user's part on
// Latchkey's /device pages while the device polls. The server polls every
// second and its codes live a minute.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import * as oauth from 'oauth4webapi'
import { claims, discover, insecure, newDPoP, privateKeyJwt, rejection, userDecides } from './lib.mjs'

const as = await discover()
const tv = { client_id: 'tv' }
const box = { client_id: 'box' }
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/ // S193

// authorize asks the device authorization endpoint for codes (RFC 8628
// §3.1, §3.2) and checks the response's members (S188).
async function authorize(client, auth, scope) {
  const res = await oauth.deviceAuthorizationRequest(as, client, auth, { scope }, insecure)
  const da = await oauth.processDeviceAuthorizationResponse(as, client, res)
  assert.match(da.device_code, /^\S{43,}$/, 'a device code of full token entropy (S194)')
  assert.match(da.user_code, USER_CODE)
  assert.equal(da.verification_uri, `${as.issuer}/device`)
  assert.equal(da.verification_uri_complete, `${da.verification_uri}?user_code=${da.user_code}`)
  assert.equal(da.expires_in, 60)
  assert.equal(da.interval, 1)
  return da
}

// poll is one token request of the device (RFC 8628 §3.4).
async function poll(client, auth, deviceCode, DPoP) {
  const res = await oauth.deviceCodeGrantRequest(as, client, auth, deviceCode, { DPoP, ...insecure })
  return oauth.processDeviceCodeResponse(as, client, res)
}

// pollError is the error response a poll gets (RFC 8628 §3.5).
async function pollError(client, auth, deviceCode) {
  const err = await rejection(poll(client, auth, deviceCode))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.status, 400)
  return err
}

// pollForTokens polls as RFC 8628 §3.5 tells a device to: wait the
// interval before each poll, go on while authorization_pending, add 5 s
// on slow_down. It returns the token response and the errors on the way.
async function pollForTokens(client, auth, da, DPoP) {
  let interval = da.interval ?? 5
  const seen = []
  for (;;) {
    await sleep(interval * 1000)
    try {
      return { tokens: await poll(client, auth, da.device_code, DPoP), seen }
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err
      seen.push(err.error)
      if (err.error === 'slow_down') interval += 5
      else if (err.error !== 'authorization_pending') throw err
    }
  }
}

// A code asked for now, so that it has expired by the last test.
const expiring = { da: await authorize(tv, oauth.None(), 'read'), at: Date.now() }

test('metadata: device_authorization_endpoint and the device_code grant (S192)', () => {
  assert.equal(as.device_authorization_endpoint, `${as.issuer}/device_authorization`)
  assert.ok(as.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'))
})

test('tv, public: authorization_pending, the user approves, tokens with refresh and ID token; the code is single-use (S187-S191)', async () => {
  const auth = oauth.None()
  const da = await authorize(tv, auth, 'openid read offline_access')
  assert.equal((await pollError(tv, auth, da.device_code)).error, 'authorization_pending')

  const decided = userDecides(da.verification_uri, da.user_code, 'approve') // typed, as read off the TV
  const { tokens } = await pollForTokens(tv, auth, da)
  assert.equal(await decided, 'Device connected')
  assert.equal(tokens.token_type, 'bearer')
  assert.equal(tokens.scope, 'openid read offline_access')
  const id = oauth.getValidatedIdTokenClaims(tokens)
  assert.equal(id.aud, 'tv')
  const at = claims(tokens.access_token)
  assert.equal(at.client_id, 'tv')
  assert.equal(at.sub, id.sub)

  const res = await oauth.refreshTokenGrantRequest(as, tv, auth, tokens.refresh_token, insecure)
  const refreshed = await oauth.processRefreshTokenResponse(as, tv, res)
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token) // rotated

  assert.equal((await pollError(tv, auth, da.device_code)).error, 'invalid_grant') // S191: redeemed once
})

test('box, private_key_jwt + DPoP: the link with the code, tokens bound to the key; another client cannot use the code (S187, S191, A24)', async () => {
  const auth = await privateKeyJwt('box')
  const da = await authorize(box, auth, 'read')
  assert.equal((await pollError(tv, oauth.None(), da.device_code)).error, 'invalid_grant') // box's code, tv's poll

  const DPoP = await newDPoP(box)
  const decided = userDecides(da.verification_uri_complete, '', 'approve') // the QR code's link
  const { tokens } = await pollForTokens(box, auth, da, DPoP)
  assert.equal(await decided, 'Device connected')
  assert.equal(tokens.token_type, 'dpop')
  assert.equal(tokens.refresh_token, undefined) // box may not refresh
  const at = claims(tokens.access_token)
  assert.equal(at.client_id, 'box')
  assert.equal(at.cnf?.jkt, await DPoP.calculateThumbprint())
})

test('box without its client authentication is invalid_client (S187)', async () => {
  const err = await rejection(oauth.deviceAuthorizationRequest(as, box, oauth.None(), { scope: 'read' }, insecure)
    .then((res) => oauth.processDeviceAuthorizationResponse(as, box, res)))
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, err)
  assert.equal(err.status, 401)
  assert.equal((await err.response.json()).error, 'invalid_client')
})

test('polling too fast is slow_down, and the interval grows by 5 s each time (S190, A24)', async () => {
  const auth = oauth.None()
  const da = await authorize(tv, auth, 'read')
  assert.equal((await pollError(tv, auth, da.device_code)).error, 'authorization_pending')
  let err = await pollError(tv, auth, da.device_code) // at once
  assert.equal(err.error, 'slow_down')
  assert.match(err.error_description, /every 6 seconds/)
  await sleep(1200) // the old interval is not enough any more
  err = await pollError(tv, auth, da.device_code)
  assert.equal(err.error, 'slow_down')
  assert.match(err.error_description, /every 11 seconds/)
  await sleep(11000) // the grown interval is
  assert.equal((await pollError(tv, auth, da.device_code)).error, 'authorization_pending')
})

test('the user denies: access_denied (S190)', async () => {
  const auth = oauth.None()
  const da = await authorize(tv, auth, 'openid read')
  const decided = userDecides(da.verification_uri, da.user_code, 'deny')
  const err = await rejection(pollForTokens(tv, auth, da))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.error, 'access_denied')
  assert.equal(await decided, 'Request denied')
})

test('the code expires: expired_token, and the user can no longer enter it (S190, S193)', async () => {
  const { da, at } = expiring
  await sleep(Math.max(0, at + da.expires_in * 1000 + 500 - Date.now()))
  assert.equal((await pollError(tv, oauth.None(), da.device_code)).error, 'expired_token')
  const refused = await rejection(userDecides(da.verification_uri, da.user_code, 'approve'))
  assert.match(refused.message, /HTTP 502: .*code refused/)
})
