package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
)

// exchangeTests cover the grants token exchange (RFC 8693) starts: a child
// grant under the grant of the subject token, which dies with it.
func exchangeTests() []subtest {
	return []subtest{
		{"ChildGrantRoundTrip", testChildGrantRoundTrip},
		{"RevokeGrantCascades", testRevokeGrantCascades},
		{"ChildOfFallenParentRefused", testChildOfFallenParent},
		{"RevokeRacesChildIssue", testRevokeRacesChild},
	}
}

// childIssue is an exchanged grant named name under parent, issued to
// f.other with an act claim and a refresh and an opaque access token.
func childIssue(name, parent string, f fixture) store.Issue {
	g := newGrant(name, f.other.ID, f.user.ID)
	g.ParentID = parent
	g.Act = `{"sub":"client:other","client_id":"other"}`
	g.CreatedAt = at(time.Minute)
	g.ExpiresAt = at(time.Hour)
	rt := newRefresh(name+"-rt", g, at(time.Hour))
	rt.GrantAct = g.Act
	a := newAccess(name+"-at", g, at(30*time.Minute))
	a.Act = g.Act
	return store.Issue{Grant: &g, Refresh: &rt, Access: &a}
}

// testChildGrantRoundTrip checks that a child grant keeps its parent, its
// subject and its act claim, that its refresh tokens read both back (a
// refresh keeps sub and act), and that an opaque access token keeps act.
func testChildGrantRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.SaveIssue(ctx, newIssue("root", f)))
	child := childIssue("child", "root", f)
	child.Grant.Subject = "partner:svc-7"
	child.Refresh.GrantSubject = "partner:svc-7"
	must(t, s.SaveIssue(ctx, child))
	checkIssueStored(t, s, child)
}

// testRevokeGrantCascades checks that revoking a grant revokes, in the same
// call, every grant descended from it with their tokens (RFC 8693 leaves
// this to the server; Latchkey promises it), and nothing above or beside.
func testRevokeGrantCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	root, other := newIssue("root", f), newIssue("other", f)
	child, grandchild, sibling := childIssue("child", "root", f), childIssue("grandchild", "child", f), childIssue("sibling", "other", f)
	for _, iss := range []store.Issue{root, other, child, grandchild, sibling} {
		must(t, s.SaveIssue(ctx, iss))
	}

	// Revoking the middle one takes its subtree, not its parent.
	must(t, s.RevokeGrant(ctx, "child", at(2*time.Minute)))
	for _, iss := range []store.Issue{child, grandchild} {
		checkFamilyRevoked(t, s, iss.Grant.ID, []string{iss.Refresh.Digest}, []string{iss.Access.Digest})
	}
	checkIssueStored(t, s, root)

	must(t, s.RevokeGrant(ctx, "root", at(3*time.Minute)))
	checkFamilyRevoked(t, s, "root", []string{root.Refresh.Digest}, []string{root.Access.Digest})
	g, err := s.GetGrant(ctx, "grandchild")
	must(t, err)
	sameTime(t, "grandchild revoked at (the earlier revocation is kept)", g.RevokedAt, at(2*time.Minute))
	checkIssueStored(t, s, other)
	checkIssueStored(t, s, sibling)
}

// testChildOfFallenParent checks that a child grant is not stored under a
// parent that is unknown, revoked or expired, and that nothing of its
// issue is stored then.
func testChildOfFallenParent(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	revoked, expired := newIssue("revoked", f), newIssue("expired", f)
	expired.Grant.ExpiresAt = at(30 * time.Second)
	must(t, s.SaveIssue(ctx, revoked))
	must(t, s.SaveIssue(ctx, expired))
	must(t, s.RevokeGrant(ctx, "revoked", at(time.Second)))
	for _, parent := range []string{"unknown", "revoked", "expired"} {
		iss := childIssue("child-of-"+parent, parent, f) // created at one minute
		err := s.SaveIssue(ctx, iss)
		wantErr(t, "SaveIssue under a "+parent+" parent", err, store.ErrNotFound)
		checkIssueAbsent(t, s, iss)
	}
}

// testRevokeRacesChild runs RevokeGrant of a parent against SaveIssue of
// children under it: whatever the order, no child may stand once both
// are done (a child stored after the revocation would outlive it).
func testRevokeRacesChild(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	for round := range 5 {
		root := newIssue(fmt.Sprintf("root%d", round), f)
		must(t, s.SaveIssue(ctx, root))
		children := make([]store.Issue, workers-1)
		for i := range children {
			children[i] = childIssue(fmt.Sprintf("r%d-c%d", round, i), root.Grant.ID, f)
		}
		errs := testkit.AtOnce(workers, func(i int) error {
			if i == 0 {
				return s.RevokeGrant(ctx, root.Grant.ID, at(time.Minute))
			}
			return s.SaveIssue(ctx, children[i-1])
		})
		must(t, errs[0])
		for i, iss := range children {
			switch err := errs[i+1]; {
			case err == nil:
				checkFamilyRevoked(t, s, iss.Grant.ID, []string{iss.Refresh.Digest}, []string{iss.Access.Digest})
			default:
				wantErr(t, "SaveIssue racing RevokeGrant", err, store.ErrNotFound)
				checkIssueAbsent(t, s, iss)
			}
		}
	}
}
