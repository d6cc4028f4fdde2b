// The metadata oauth4webapi reads before anything else (RFC 8414).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { discover, issuer } from './lib.mjs'

test('metadata announces PAR, DPoP and private_key_jwt (S165, S178, S185, S212)', async () => {
  const as = await discover()
  assert.equal(as.issuer, issuer.href.replace(/\/$/, ''))
  assert.equal(as.pushed_authorization_request_endpoint, `${as.issuer}/par`) // S178
  assert.ok(as.dpop_signing_alg_values_supported?.includes('ES256'), 'dpop_signing_alg_values_supported has ES256') // S165
  assert.ok(!as.dpop_signing_alg_values_supported.includes('none'))
  assert.ok(as.token_endpoint_auth_methods_supported.includes('private_key_jwt'))
  const algs = as.token_endpoint_auth_signing_alg_values_supported
  assert.ok(algs?.includes('ES256'), 'token_endpoint_auth_signing_alg_values_supported has ES256')
  assert.ok(!algs.includes('none') && !algs.some((a) => a.startsWith('HS')), `no none or HMAC in ${algs}`)
  assert.equal(as.authorization_response_iss_parameter_supported, true) // RFC 9207, checked by validateAuthResponse
  assert.equal(typeof as.require_pushed_authorization_requests, 'boolean') // S185: false server-wide, true per client
})
