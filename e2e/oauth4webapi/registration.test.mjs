// Dynamic client registration (RFC 7591) with oauth4webapi's own
// registration functions: a public client registered with an initial
// access token runs the code flow with PKCE and a resource; a confidential
// one gets client credentials; the refusals are RFC errors oauth4webapi
// understands.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as oauth from 'oauth4webapi'
import { claims, discover, env, insecure, redirectURI, rejection, signIn } from './lib.mjs'

const as = await discover()
const initialAccessToken = env('INITIAL_ACCESS_TOKEN')
const MCP = 'https://mcp.example.com/mcp'

async function register(metadata, options = {}) {
  const res = await oauth.dynamicClientRegistrationRequest(as, metadata, { ...insecure, ...options })
  return oauth.processDynamicClientRegistrationResponse(res)
}

test('metadata names the registration endpoint (RFC 8414, RFC 7591 §3)', () => {
  assert.equal(as.registration_endpoint, `${as.issuer}/register`)
})

test('a public client registers and runs the code flow with PKCE and resource (S196-S200)', async () => {
  const client = await register({
    redirect_uris: [redirectURI], grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'], token_endpoint_auth_method: 'none', client_name: 'Agent', scope: 'openid read',
  }, { initialAccessToken })
  assert.match(client.client_id, /^dcr_/) // S202: chosen by the server
  assert.equal(client.client_secret, undefined)
  assert.equal(client.token_endpoint_auth_method, 'none')
  assert.equal(client.client_secret_expires_at, 0)
  assert.ok(client.registration_access_token && client.registration_client_uri)

  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint)
  url.search = new URLSearchParams({
    client_id: client.client_id, response_type: 'code', redirect_uri: redirectURI, scope: 'read', state, resource: MCP,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  const callback = oauth.validateAuthResponse(as, client, await signIn(url), state)
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), callback, redirectURI, verifier,
    { additionalParameters: [['resource', MCP]], ...insecure })
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, res)
  assert.deepEqual([claims(tokens.access_token).aud].flat(), [MCP])
  assert.equal(claims(tokens.access_token).client_id, client.client_id)
  assert.ok(tokens.refresh_token)
})

test('a confidential client gets a secret that works once registered (S200)', async () => {
  const client = await register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'read' },
    { initialAccessToken })
  assert.match(client.client_secret, /^lk_cs_/)
  const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(client.client_secret),
    new URLSearchParams({ scope: 'read' }), insecure)
  const tokens = await oauth.processClientCredentialsResponse(as, client, res)
  assert.equal(claims(tokens.access_token).client_id, client.client_id)
})

test('refusals are RFC 7591 errors (S196, S198, S201, S203)', async () => {
  const anonymous = await rejection(register({ redirect_uris: [redirectURI], token_endpoint_auth_method: 'none' }))
  assert.ok(anonymous instanceof oauth.WWWAuthenticateChallengeError, anonymous)
  assert.equal(anonymous.status, 401)
  assert.equal(anonymous.cause[0].scheme, 'bearer')

  const wrongToken = await rejection(register({ redirect_uris: [redirectURI] }, { initialAccessToken: 'lk_iat_wrong' }))
  assert.equal(wrongToken.status, 401)

  for (const [metadata, code] of [
    [{ redirect_uris: ['https://app.example/cb#frag'] }, 'invalid_redirect_uri'],
    [{ redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri'],
    [{ redirect_uris: [redirectURI], grant_types: ['implicit'], response_types: ['token'] }, 'invalid_client_metadata'],
    [{ grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }, 'invalid_client_metadata'],
  ]) {
    const err = await rejection(register(metadata, { initialAccessToken }))
    assert.ok(err instanceof oauth.ResponseBodyError, err)
    assert.equal(err.status, 400)
    assert.equal(err.error, code, JSON.stringify(metadata))
  }
})
