package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// KeyView is the JSON of a signing key and its state at now: pending
// (published, not signing yet), active (the newest of its algorithm that
// signs), or retiring (still published for tokens it signed).
func KeyView(k store.Key, state string) map[string]any {
	return map[string]any{"kid": k.KID, "alg": k.Alg, "state": state,
		"created_at": k.CreatedAt.UTC().Format(time.RFC3339), "active_at": k.ActiveAt.UTC().Format(time.RFC3339)}
}

// KeyStates names the state of each key of all (oldest first) at now.
func KeyStates(all []store.Key, now time.Time) []string {
	states := make([]string, len(all))
	signing := map[string]int{} // alg → index of the newest active key
	for i, k := range all {
		if k.ActiveAt.After(now) {
			states[i] = "pending"
			continue
		}
		states[i] = "retiring"
		if j, ok := signing[k.Alg]; !ok || !all[j].ActiveAt.After(k.ActiveAt) {
			signing[k.Alg] = i
		}
	}
	for _, i := range signing {
		states[i] = "active"
	}
	return states
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	all, err := a.st.ListKeys(r.Context())
	if err != nil {
		return err
	}
	states := KeyStates(all, a.now())
	out := listing{Items: []map[string]any{}}
	for i, k := range all {
		out.Items = append(out.Items, KeyView(k, states[i]))
	}
	return writeJSON(w, http.StatusOK, out)
}

// rotateKeys stages a rotation: a new key of each algorithm, published at
// once and signing after the activation delay, as latchkey keys rotate.
func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	added, err := a.keys.Rotate(r.Context())
	if err != nil {
		return err
	}
	var kids []string
	for _, k := range added {
		kids = append(kids, k.KID)
	}
	a.record(r, change{object: "key", id: strings.Join(kids, " "), action: "stage_rotation"})
	out := listing{Items: []map[string]any{}}
	for _, k := range added {
		state := "pending"
		if !k.ActiveAt.After(a.now()) {
			state = "active" // no activation delay configured
		}
		out.Items = append(out.Items, KeyView(k, state))
	}
	return writeJSON(w, http.StatusCreated, out)
}
