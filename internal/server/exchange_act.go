package server

import (
	"encoding/json"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// maxActDepth bounds the delegation chain of an exchanged token: a chain
// longer than this is refused (invalid_request) rather than grown without
// end by exchanging exchanged tokens again and again.
const maxActDepth = 4

// clientActor is the act claim naming client c itself.
func clientActor(c store.Client) *token.Actor {
	return &token.Actor{Subject: ClientSubjectPrefix + c.ID, ClientID: c.ID}
}

// actorOf is the act claim naming the verified actor token's subject, with
// the actor's own act chain nested inside (RFC 8693 §4.1).
func actorOf(a exchangeToken) *token.Actor {
	act := &token.Actor{Subject: a.subject, Issuer: a.issuer, Actor: copyChain(a.act)}
	if !isUserSubject(a.subject) && a.issuer == "" {
		act.ClientID = a.clientID // a client acting for itself
	}
	return act
}

// chainActors puts prior, the subject token's own chain, innermost below
// head: the most recent actor first, the earliest last (RFC 8693 §4.1).
// It copies both, so that no token's claims are changed in place.
func chainActors(head, prior *token.Actor) *token.Actor {
	head, prior = copyChain(head), copyChain(prior)
	if head == nil {
		return prior
	}
	last := head
	for last.Actor != nil {
		last = last.Actor
	}
	last.Actor = prior
	return head
}

// copyChain copies an act chain, stopping after one more level than
// maxActDepth allows so that a deep chain is still seen as too deep.
func copyChain(a *token.Actor) *token.Actor {
	var head, tail *token.Actor
	for n := 0; a != nil && n <= maxActDepth; n, a = n+1, a.Actor {
		c := &token.Actor{Subject: a.Subject, Issuer: a.Issuer, ClientID: a.ClientID}
		if head == nil {
			head = c
		} else {
			tail.Actor = c
		}
		tail = c
	}
	return head
}

// actDepth is the number of actors in a chain.
func actDepth(a *token.Actor) int {
	n := 0
	for ; a != nil; a = a.Actor {
		n++
	}
	return n
}

// encodeAct is the JSON of an act claim for the store, or "".
func encodeAct(a *token.Actor) string {
	if a == nil {
		return ""
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "" // strings only: it always marshals
	}
	return string(b)
}

// decodeAct reads what encodeAct stored; anything else reads as no act.
func decodeAct(s string) *token.Actor {
	if s == "" {
		return nil
	}
	var a token.Actor
	if err := json.Unmarshal([]byte(s), &a); err != nil || a.Subject == "" {
		return nil
	}
	return &a
}
