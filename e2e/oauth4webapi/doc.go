// Package oauth4webapi holds tests only: they run the npm package
// oauth4webapi, a strict, widely used OAuth 2 and OpenID Connect client,
// against a real latchkey serve process, so that DPoP (RFC 9449), pushed
// authorization requests (RFC 9126), private_key_jwt (RFC 7523), resource
// indicators (RFC 8707), the fapi2 profile and the device authorization
// grant (RFC 8628) are checked by a client that was not written together
// with the server.
//
// The client tests are the *.test.mjs files beside this one (node:test);
// oauth4webapi_test.go builds latchkey, writes a configuration with the
// clients they use, starts the server, installs the locked npm packages
// when needed and runs node --test. For the device grant it also plays
// the user's browser, which the device cannot be: device.test.mjs asks it
// over loopback HTTP to approve or deny a code on the /device pages.
// Without node and npm the test skips (and fails under CI=true), like the
// PostgreSQL and Chromium tests.
package oauth4webapi
