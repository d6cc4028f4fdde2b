package server

import (
	"slices"

	"github.com/latchkey/latchkey/internal/store"
)

// scopeClaims maps OpenID Connect scopes to the claims they release
// (OpenID Connect Core §5.4, S233).
func scopeClaims(scope string) []string {
	switch scope {
	case "profile":
		return []string{"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
			"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"}
	case "email":
		return []string{"email", "email_verified"}
	case "address":
		return []string{"address"}
	case "phone":
		return []string{"phone_number", "phone_number_verified"}
	}
	return nil
}

// userClaims returns the claims of u released by scopes: openid alone
// gives none beyond sub; empty values are left out (S231).
func userClaims(u store.User, scopes []string) map[string]any {
	out := map[string]any{}
	for _, sc := range scopes {
		for _, name := range scopeClaims(sc) {
			if v, ok := u.Claims[name]; ok && v != nil && v != "" {
				out[name] = v
			}
		}
	}
	if slices.Contains(scopes, "profile") {
		if _, ok := out["preferred_username"]; !ok {
			out["preferred_username"] = u.Username
		}
	}
	return out
}
