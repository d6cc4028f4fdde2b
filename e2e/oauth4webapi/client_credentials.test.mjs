// Client credentials with private_key_jwt and DPoP, server nonces, and
// resource indicators.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as oauth from 'oauth4webapi'
import { claims, discover, insecure, newDPoP, privateKeyJwt, rejection } from './lib.mjs'

const as = await discover()

async function clientCredentials(client, auth, params, DPoP) {
  const res = await oauth.clientCredentialsGrantRequest(as, client, auth, params, { DPoP, ...insecure })
  return oauth.processClientCredentialsResponse(as, client, res)
}

test('private_key_jwt + DPoP: a DPoP token whose cnf.jkt is the proof key (S163, S166, S212, S214)', async () => {
  const client = { client_id: 'svc-jwt' }
  const DPoP = await newDPoP(client)
  const tokens = await clientCredentials(client, await privateKeyJwt('svc-jwt'), { scope: 'read' }, DPoP)
  assert.equal(tokens.token_type, 'dpop') // oauth4webapi lower-cases it; the server said DPoP (S163)
  const at = claims(tokens.access_token)
  assert.equal(at.client_id, 'svc-jwt')
  assert.equal(at.sub, 'client:svc-jwt')
  assert.equal(at.cnf?.jkt, await DPoP.calculateThumbprint()) // S166
})

test('private_key_jwt without DPoP: a Bearer token without cnf (S163)', async () => {
  const client = { client_id: 'svc-jwt' }
  const tokens = await clientCredentials(client, await privateKeyJwt('svc-jwt'), { scope: 'read' })
  assert.equal(tokens.token_type, 'bearer')
  assert.equal(claims(tokens.access_token).cnf, undefined)
})

test('a key the client did not register is invalid_client (S214)', async () => {
  const client = { client_id: 'svc-jwt' }
  const { privateKey } = await oauth.generateKeyPair('ES256')
  const err = await rejection(clientCredentials(client, oauth.PrivateKeyJwt({ key: privateKey, kid: 'svc-jwt-1' }), {}))
  // Latchkey answers every invalid_client 401 with a Basic challenge (RFC 9110
  // §15.5.2), which oauth4webapi reports as a challenge error.
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, err)
  assert.equal(err.status, 401)
  assert.equal((await err.response.json()).error, 'invalid_client')
})

test('server nonce: use_dpop_nonce, then the retry with the nonce succeeds (S170, S175)', async () => {
  const client = { client_id: 'svc-nonce' } // keys at a jwks_uri; require_dpop_nonce: true
  const auth = await privateKeyJwt('svc-nonce')
  const DPoP = await newDPoP(client)
  const err = await rejection(clientCredentials(client, auth, { scope: 'read' }, DPoP))
  assert.ok(oauth.isDPoPNonceError(err), `first attempt: ${err}`)
  assert.equal(err.status, 400)
  const tokens = await clientCredentials(client, auth, { scope: 'read' }, DPoP) // the handle kept the nonce
  assert.equal(tokens.token_type, 'dpop')
  assert.equal(claims(tokens.access_token).cnf.jkt, await DPoP.calculateThumbprint())
  // The nonce stays good for the next request of the same handle.
  assert.equal((await clientCredentials(client, auth, { scope: 'read' }, DPoP)).token_type, 'dpop')
})

test('a resource narrows aud to it (S204, S205)', async () => {
  const client = { client_id: 'svc-jwt' }
  const tokens = await clientCredentials(client, await privateKeyJwt('svc-jwt'),
    new URLSearchParams([['scope', 'read'], ['resource', 'https://files.example.com/']]))
  const aud = [claims(tokens.access_token).aud].flat()
  assert.deepEqual(aud, ['https://files.example.com/'])
})

test('two resources give both audiences (S204)', async () => {
  const client = { client_id: 'svc-jwt' }
  const tokens = await clientCredentials(client, await privateKeyJwt('svc-jwt'),
    new URLSearchParams([['resource', 'https://api.example.com/'], ['resource', 'https://files.example.com/']]))
  const aud = [claims(tokens.access_token).aud].flat().sort()
  assert.deepEqual(aud, ['https://api.example.com/', 'https://files.example.com/'])
})

test('a resource the client may not ask for is invalid_target (S204)', async () => {
  const client = { client_id: 'svc-jwt' }
  const err = await rejection(clientCredentials(client, await privateKeyJwt('svc-jwt'),
    { resource: 'https://elsewhere.example.com/' }))
  assert.ok(err instanceof oauth.ResponseBodyError, err)
  assert.equal(err.error, 'invalid_target')
  assert.equal(err.status, 400)
})
