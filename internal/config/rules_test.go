package config

import "github.com/latchkey/latchkey/internal/server"

// testRules are the server's own rules, as cmd/latchkey passes them.
var testRules = Rules{Grants: server.Grants(), AuthMethods: server.AuthMethods()}
