// What a captured request is worth to someone who replays it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as oauth from 'oauth4webapi'
import { claims, discover, insecure, newDPoP, privateKeyJwt, redirectURI, rejection } from './lib.mjs'

const as = await discover()
const client = { client_id: 'svc-jwt' }

// capture sends a request through oauth4webapi and keeps what it sent.
function capture() {
  const sent = []
  const options = { ...insecure, [oauth.customFetch]: (url, init) => { sent.push({ url, init }); return fetch(url, init) } }
  return { sent, options }
}

async function clientCredentials(DPoP) {
  const res = await oauth.clientCredentialsGrantRequest(as, client, await privateKeyJwt('svc-jwt'), { scope: 'read' }, { DPoP, ...insecure })
  return oauth.processClientCredentialsResponse(as, client, res)
}

test('a client assertion serves once (S214)', async () => {
  const { sent, options } = capture()
  const res = await oauth.clientCredentialsGrantRequest(as, client, await privateKeyJwt('svc-jwt'), { scope: 'read' }, options)
  await oauth.processClientCredentialsResponse(as, client, res)
  const body = new URLSearchParams(sent[0].init.body)
  assert.equal(claims(body.get('client_assertion')).aud, as.issuer) // S212: the issuer, one string
  const again = await fetch(sent[0].url, sent[0].init)
  assert.equal(again.status, 401)
  assert.equal((await again.json()).error, 'invalid_client')
})

test('a DPoP proof serves once (S174)', async () => {
  const { sent, options } = capture()
  await oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, await privateKeyJwt('svc-jwt'), {}, { DPoP: await newDPoP(client), ...options }))
  // The captured proof beside a fresh client assertion: only the proof is replayed.
  const dpop = sent[0].init.headers.dpop
  assert.ok(dpop, 'the request carried a DPoP header')
  const replay = { ...insecure, [oauth.customFetch]: (url, init) => fetch(url, { ...init, headers: { ...init.headers, dpop } }) }
  const res = await oauth.clientCredentialsGrantRequest(as, client, await privateKeyJwt('svc-jwt'), {}, replay)
  const err = await rejection(oauth.processClientCredentialsResponse(as, client, res))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.error, 'invalid_dpop_proof')
})

test('dpop_jkt differing from the DPoP proof at PAR is refused (S173)', async () => {
  const web = { client_id: 'web' }
  const other = await (await newDPoP(web)).calculateThumbprint()
  const params = {
    response_type: 'code', redirect_uri: redirectURI, scope: 'read', dpop_jkt: other,
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
  }
  const res = await oauth.pushedAuthorizationRequest(as, web, await privateKeyJwt('web'), params, { DPoP: await newDPoP(web), ...insecure })
  const err = await rejection(oauth.processPushedAuthorizationResponse(as, web, res))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.error, 'invalid_request')
})

test('introspection of a DPoP token gives cnf.jkt and token_type DPoP (S166)', async () => {
  const DPoP = await newDPoP(client)
  const { access_token } = await clientCredentials(DPoP)
  const res = await oauth.introspectionRequest(as, client, await privateKeyJwt('svc-jwt'), access_token, insecure)
  const info = await oauth.processIntrospectionResponse(as, client, res)
  assert.equal(info.active, true)
  assert.equal(info.token_type, 'DPoP')
  assert.equal(info.cnf?.jkt, await DPoP.calculateThumbprint())
})
