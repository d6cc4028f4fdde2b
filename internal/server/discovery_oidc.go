package server

import (
	"github.com/latchkey/latchkey/internal/keys"
)

// addAuthorizationMetadata adds the authorization endpoint and OpenID
// Connect fields (RFC 8414 §2, OpenID Connect Discovery §3, S094, S242):
// only the code flow with S256 PKCE, the iss parameter in every
// authorization response (RFC 9207, S158), no request objects.
func (s *Server) addAuthorizationMetadata(doc map[string]any) {
	doc["authorization_endpoint"] = s.endpoint("/authorize")
	doc["userinfo_endpoint"] = s.endpoint("/userinfo")
	doc["end_session_endpoint"] = s.endpoint("/logout")
	doc["response_types_supported"] = []string{"code"}
	doc["response_modes_supported"] = []string{"query"}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	doc["subject_types_supported"] = []string{"public"}
	doc["id_token_signing_alg_values_supported"] = keys.Algorithms()
	doc["prompt_values_supported"] = []string{"none", "login", "consent", "select_account"}
	// The classes a sign-in here can reach. urn:latchkey:acr:phishing_resistant
	// is understood in acr_values but left out: no factor of this server
	// reaches it until passkeys come, and the list says what is supported.
	doc["acr_values_supported"] = []string{ACRPassword, ACRMFA}
	if s.rp != nil { // only a passkey reaches it
		doc["acr_values_supported"] = []string{ACRPassword, ACRMFA, ACRPhishingResistant}
	}
	doc["claims_supported"] = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "amr", "acr",
		"sid", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
		"website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email", "email_verified",
		"address", "phone_number", "phone_number_verified"}
	doc["authorization_response_iss_parameter_supported"] = true
	doc["claims_parameter_supported"] = false
	doc["request_parameter_supported"] = false
	doc["request_uri_parameter_supported"] = false
	doc["frontchannel_logout_supported"] = false
	// Back-Channel Logout 1.0 §2.1: logout tokens carry sid, and so do
	// the ID tokens of clients registered for them.
	doc["backchannel_logout_supported"] = true
	doc["backchannel_logout_session_supported"] = true
	s.addSenderConstraintMetadata(doc)
}

// addSenderConstraintMetadata advertises PAR (RFC 9126 §5, S178, S185),
// DPoP (RFC 9449 §5.1, S165) and the algorithms client assertions may use
// (RFC 8414 §2, never none).
func (s *Server) addSenderConstraintMetadata(doc map[string]any) {
	doc["pushed_authorization_request_endpoint"] = s.endpoint("/par")
	doc["require_pushed_authorization_requests"] = s.cfg.PAR.Require
	doc["dpop_signing_alg_values_supported"] = s.cfg.DPoP.Algs
	algs := assertionAlgNames()
	doc["token_endpoint_auth_signing_alg_values_supported"] = algs
	doc["introspection_endpoint_auth_signing_alg_values_supported"] = algs
	doc["revocation_endpoint_auth_signing_alg_values_supported"] = algs
}
