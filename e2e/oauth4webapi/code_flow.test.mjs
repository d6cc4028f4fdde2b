// The authorization code flow with PAR, DPoP, PKCE and private_key_jwt, for
// a plain client (web) and one under the FAPI 2.0 profile (fapi).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as oauth from 'oauth4webapi'
import { claims, discover, insecure, newDPoP, privateKeyJwt, redirectURI, rejection, signIn } from './lib.mjs'

const as = await discover()
const API = 'https://api.example.com/'
const FILES = 'https://files.example.com/'

// pushAndSignIn pushes an authorization request (RFC 9126) with DPoP when
// given (binding the code to its key, S173), sends the "browser" to
// /authorize with the request_uri, signs in and consents, and checks the
// redirect back (state and iss, RFC 9207).
async function pushAndSignIn(client, { DPoP, resources = [], scope = 'openid read' } = {}) {
  const auth = await privateKeyJwt(client.client_id)
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const params = new URLSearchParams({
    response_type: 'code', redirect_uri: redirectURI, scope, state, nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  for (const r of resources) params.append('resource', r)
  const res = await oauth.pushedAuthorizationRequest(as, client, auth, params, { DPoP, ...insecure })
  const { request_uri } = await oauth.processPushedAuthorizationResponse(as, client, res)
  assert.match(request_uri, /^urn:ietf:params:oauth:request_uri:/) // S181
  const url = new URL(as.authorization_endpoint)
  url.searchParams.set('client_id', client.client_id)
  url.searchParams.set('request_uri', request_uri)
  const callback = oauth.validateAuthResponse(as, client, await signIn(url), state)
  return { auth, callback, verifier, nonce }
}

// exchange trades the code at /token and validates the response and its
// ID token (alg as the client is registered, nonce, iss, aud).
async function exchange(client, flow, { DPoP, resources = [] } = {}) {
  const additionalParameters = resources.map((r) => ['resource', r])
  const res = await oauth.authorizationCodeGrantRequest(as, client, flow.auth, flow.callback, redirectURI, flow.verifier,
    { DPoP, additionalParameters, ...insecure })
  return oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: flow.nonce, requireIdToken: true })
}

async function refresh(client, auth, refreshToken, { DPoP, resources = [] } = {}) {
  const additionalParameters = resources.map((r) => ['resource', r])
  const res = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, { DPoP, additionalParameters, ...insecure })
  return oauth.processRefreshTokenResponse(as, client, res)
}

async function userinfo(client, accessToken, sub, DPoP) {
  const res = await oauth.userInfoRequest(as, client, accessToken, { DPoP, ...insecure })
  return oauth.processUserInfoResponse(as, client, sub, res)
}

function audience(jwt) {
  return [claims(jwt).aud].flat().sort()
}

function header(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString())
}

test('web: PAR + DPoP + PKCE, userinfo and refresh with DPoP, revocation (S163, S166, S169, S173, S179-S181, S184)', async () => {
  const client = { client_id: 'web' } // RS256 ID tokens, the default
  const DPoP = await newDPoP(client)
  const jkt = await DPoP.calculateThumbprint()
  const flow = await pushAndSignIn(client, { DPoP, scope: 'openid profile read' })

  const tokens = await exchange(client, flow, { DPoP })
  assert.equal(tokens.token_type, 'dpop')
  assert.equal(claims(tokens.access_token).cnf.jkt, jkt)
  const id = oauth.getValidatedIdTokenClaims(tokens)
  assert.equal(header(tokens.id_token).alg, 'RS256')
  assert.equal(id.aud, 'web')

  const info = await userinfo(client, tokens.access_token, id.sub, DPoP)
  assert.equal(info.name, 'Alice')
  const downgrade = await rejection(userinfo(client, tokens.access_token, id.sub)) // sent as Bearer (S169)
  assert.ok(downgrade instanceof oauth.WWWAuthenticateChallengeError, downgrade)
  assert.equal(downgrade.status, 401)
  assert.equal(downgrade.cause[0].scheme, 'dpop') // S168
  assert.equal(downgrade.cause[0].parameters.error, 'invalid_token')

  const refreshed = await refresh(client, flow.auth, tokens.refresh_token, { DPoP })
  assert.equal(refreshed.token_type, 'dpop')
  assert.equal(claims(refreshed.access_token).cnf.jkt, jkt)
  assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'the refresh token rotates')

  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, flow.auth, refreshed.refresh_token, insecure))
  const err = await rejection(refresh(client, flow.auth, refreshed.refresh_token, { DPoP }))
  assert.equal(err.error, 'invalid_grant')
})

test('web: a request_uri serves once (S184)', async () => {
  const client = { client_id: 'web' }
  const auth = await privateKeyJwt('web')
  const params = {
    response_type: 'code', redirect_uri: redirectURI, scope: 'read',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
  }
  const res = await oauth.pushedAuthorizationRequest(as, client, auth, params, insecure)
  const { request_uri } = await oauth.processPushedAuthorizationResponse(as, client, res)
  const url = new URL(as.authorization_endpoint)
  url.searchParams.set('client_id', 'web')
  url.searchParams.set('request_uri', request_uri)
  assert.equal((await fetch(url, { redirect: 'manual' })).status, 200) // the login page
  assert.equal((await fetch(url, { redirect: 'manual' })).status, 400) // used: not redirected
})

test('web: a code bound at PAR is refused with another DPoP key (S172, S173)', async () => {
  const client = { client_id: 'web' }
  const flow = await pushAndSignIn(client, { DPoP: await newDPoP(client) })
  const err = await rejection(exchange(client, flow, { DPoP: await newDPoP(client) }))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.status, 400)
  assert.equal(err.error, 'invalid_grant')
})

test('web: resource at PAR and at /token narrows aud; outside the grant is invalid_target (S204-S206)', async () => {
  const client = { client_id: 'web' }
  const DPoP = await newDPoP(client)
  const flow = await pushAndSignIn(client, { DPoP, resources: [API, FILES] })
  const tokens = await exchange(client, flow, { DPoP, resources: [API] })
  assert.deepEqual(audience(tokens.access_token), [API])

  const err = await rejection(refresh(client, flow.auth, tokens.refresh_token, { DPoP, resources: ['https://elsewhere.example.com/'] }))
  assert.equal(err.error, 'invalid_target') // S206; the refresh token is not spent
  const narrowed = await refresh(client, flow.auth, tokens.refresh_token, { DPoP, resources: [FILES] })
  assert.deepEqual(audience(narrowed.access_token), [FILES])
  const all = await refresh(client, flow.auth, narrowed.refresh_token, { DPoP })
  assert.deepEqual(audience(all.access_token), [API, FILES]) // none asked: everything granted
})

test('web: a resource the client may not ask for is invalid_target at PAR (S180, S204)', async () => {
  const client = { client_id: 'web' }
  const params = {
    response_type: 'code', redirect_uri: redirectURI, scope: 'read', resource: 'https://elsewhere.example.com/',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
  }
  const res = await oauth.pushedAuthorizationRequest(as, client, await privateKeyJwt('web'), params, insecure)
  const err = await rejection(oauth.processPushedAuthorizationResponse(as, client, res))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.error, 'invalid_target')
})

test('fapi2: PAR, private_key_jwt and DPoP; ES256 ID tokens; refresh tokens not rotated', async () => {
  const client = { client_id: 'fapi', id_token_signed_response_alg: 'ES256' }
  const DPoP = await newDPoP(client)
  const flow = await pushAndSignIn(client, { DPoP })
  const tokens = await exchange(client, flow, { DPoP })
  assert.equal(tokens.token_type, 'dpop')
  assert.equal(claims(tokens.access_token).cnf.jkt, await DPoP.calculateThumbprint())
  assert.equal(header(tokens.id_token).alg, 'ES256')
  const sub = oauth.getValidatedIdTokenClaims(tokens).sub
  assert.equal((await userinfo(client, tokens.access_token, sub, DPoP)).sub, sub)

  const refreshed = await refresh(client, flow.auth, tokens.refresh_token, { DPoP })
  assert.equal(refreshed.token_type, 'dpop')
  assert.ok([undefined, tokens.refresh_token].includes(refreshed.refresh_token), 'the refresh token is not rotated')
  assert.equal((await refresh(client, flow.auth, tokens.refresh_token, { DPoP })).token_type, 'dpop') // still good

  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, flow.auth, tokens.refresh_token, insecure))
  assert.equal((await rejection(refresh(client, flow.auth, tokens.refresh_token, { DPoP }))).error, 'invalid_grant')
})

test('fapi2: an authorization request that was not pushed is invalid_request (S185)', async () => {
  const client = { client_id: 'fapi', id_token_signed_response_alg: 'ES256' }
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint)
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: 'fapi', redirect_uri: redirectURI, scope: 'openid read', state,
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
  })) url.searchParams.set(k, v)
  const res = await fetch(url, { redirect: 'manual' })
  assert.equal(res.status, 303)
  const back = new URL(res.headers.get('location'))
  assert.ok(back.href.startsWith(redirectURI), back.href)
  const err = await rejection(async () => oauth.validateAuthResponse(as, client, back, state)) // checks iss too
  assert.ok(err instanceof oauth.AuthorizationResponseError, err)
  assert.equal(err.error, 'invalid_request')
})

test('fapi2: a token request without DPoP is invalid_dpop_proof (S165)', async () => {
  const client = { client_id: 'fapi', id_token_signed_response_alg: 'ES256' }
  const flow = await pushAndSignIn(client) // pushed without DPoP: the code is not bound
  const err = await rejection(exchange(client, flow))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.status, 400)
  assert.equal(err.error, 'invalid_dpop_proof')
})

// retryOnNonce runs request again once when the server asks for a DPoP
// nonce; the handle has kept the nonce from the error (RFC 9449 §8, §9).
async function retryOnNonce(request, asked) {
  try {
    return await request()
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    asked.push(err.status)
    return request()
  }
}

test('web-nonce: nonces at PAR, /token and /userinfo, each retried once (S170, S171, S175)', async () => {
  const client = { client_id: 'web-nonce' } // require_dpop_nonce: true
  const DPoP = await newDPoP(client)
  const asked = []
  const flow = await retryOnNonce(() => pushAndSignIn(client, { DPoP }), asked)
  assert.deepEqual(asked, [400], 'the first push was answered use_dpop_nonce') // S170
  const tokens = await retryOnNonce(() => exchange(client, flow, { DPoP }), asked)
  assert.equal(tokens.token_type, 'dpop')
  const sub = oauth.getValidatedIdTokenClaims(tokens).sub
  const info = await retryOnNonce(() => userinfo(client, tokens.access_token, sub, DPoP), asked)
  assert.equal(info.sub, sub)
  const refreshed = await retryOnNonce(() => refresh(client, flow.auth, tokens.refresh_token, { DPoP }), asked)
  assert.equal(claims(refreshed.access_token).cnf.jkt, await DPoP.calculateThumbprint())
  // /token and /userinfo accept the nonce PAR handed out (S170: one nonce
  // source for the whole server).
  assert.deepEqual(asked, [400])
})

test('spa (public): refresh tokens are bound to the DPoP key (S164)', async () => {
  const client = { client_id: 'spa', token_endpoint_auth_method: 'none' }
  const DPoP = await newDPoP(client)
  const verifier = oauth.generateRandomCodeVerifier()
  const params = {
    response_type: 'code', redirect_uri: redirectURI, scope: 'openid read',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  }
  const res = await oauth.pushedAuthorizationRequest(as, client, oauth.None(), params, { DPoP, ...insecure })
  const { request_uri } = await oauth.processPushedAuthorizationResponse(as, client, res)
  const url = new URL(as.authorization_endpoint)
  url.searchParams.set('client_id', 'spa')
  url.searchParams.set('request_uri', request_uri)
  const callback = oauth.validateAuthResponse(as, client, await signIn(url), oauth.expectNoState)
  const tokens = await oauth.processAuthorizationCodeResponse(as, client,
    await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), callback, redirectURI, verifier, { DPoP, ...insecure }))
  assert.equal(tokens.token_type, 'dpop')

  const err = await rejection(refresh(client, oauth.None(), tokens.refresh_token, { DPoP: await newDPoP(client) }))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.error, 'invalid_grant')
  const noProof = await rejection(refresh(client, oauth.None(), tokens.refresh_token))
  assert.equal(noProof.error, 'invalid_grant')
  const refreshed = await refresh(client, oauth.None(), tokens.refresh_token, { DPoP })
  assert.equal(claims(refreshed.access_token).cnf.jkt, await DPoP.calculateThumbprint())
})
