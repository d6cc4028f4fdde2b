package bearer

// Actor is the act claim of a token issued by token exchange (RFC 8693
// §4.1): who acts for the token's subject. Actor, when not nil, is who
// acted before it, so the chain reads from the most recent actor to the
// earliest. A token without act was not delegated.
type Actor struct {
	// Subject is the acting party: a user, "client:<client_id>" for a
	// client, or an external workload's subject.
	Subject string
	// Issuer is the acting party's issuer when it is not the token's own.
	Issuer string
	// ClientID is the client that acted, when the actor is a client.
	ClientID string
	// Actor is the previous actor in the chain, or nil.
	Actor *Actor
}

// maxActorDepth bounds how deep an act chain is read; a deeper one is
// refused as malformed (an authorization server bounds its own far below).
const maxActorDepth = 16

// Chain returns the subjects of the chain, most recent actor first.
func (a *Actor) Chain() []string {
	var out []string
	for ; a != nil; a = a.Actor {
		out = append(out, a.Subject)
	}
	return out
}

// actorClaim reads the act claim of m: nil when absent, ok false when it
// is not an object with a string sub at every level.
func actorClaim(m map[string]any) (act *Actor, ok bool) {
	v, present := m["act"]
	if !present {
		return nil, true
	}
	var head, tail *Actor
	for depth := 0; present; depth++ {
		obj, isObj := v.(map[string]any)
		sub, hasSub := obj["sub"].(string)
		if !isObj || !hasSub || sub == "" || depth == maxActorDepth {
			return nil, false
		}
		a := &Actor{Subject: sub}
		a.Issuer, _ = obj["iss"].(string)
		a.ClientID, _ = obj["client_id"].(string)
		if head == nil {
			head = a
		} else {
			tail.Actor = a
		}
		tail = a
		v, present = obj["act"]
	}
	return head, true
}
