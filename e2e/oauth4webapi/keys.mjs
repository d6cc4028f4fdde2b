// Prints a new ES256 key pair for each client id named on the command line,
// as JSON: {"<client_id>": {"public": JWK, "private": JWK}}. The Go test puts
// the public keys into Latchkey's configuration (jwks) and hands the private
// ones to the tests in LATCHKEY_KEYS.
import * as oauth from 'oauth4webapi'

const out = {}
for (const id of process.argv.slice(2)) {
  const { publicKey, privateKey } = await oauth.generateKeyPair('ES256', { extractable: true })
  const kid = `${id}-1`
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey)
  out[id] = {
    public: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' },
    private: { ...(await crypto.subtle.exportKey('jwk', privateKey)), kid },
  }
}
process.stdout.write(JSON.stringify(out))
