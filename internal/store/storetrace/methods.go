package storetrace

// Every method of store.Store and store.AdminStore is written out rather
// than embedded, so that a method added to an interface does not compile
// here until it has its span. Close has no context and no span.

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func (w *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	ctx, sp := w.start(ctx, "AddFailure")
	r0, err := w.st.AddFailure(ctx, key, now, window)
	end(sp, err)
	return r0, err
}

func (w *Store) AddKey(ctx context.Context, k store.Key, notSince time.Time) (bool, error) {
	ctx, sp := w.start(ctx, "AddKey")
	r0, err := w.st.AddKey(ctx, k, notSince)
	end(sp, err)
	return r0, err
}

func (w *Store) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	ctx, sp := w.start(ctx, "AppendAuditEvents")
	err := w.st.AppendAuditEvents(ctx, events)
	end(sp, err)
	return err
}

func (w *Store) ClearFailures(ctx context.Context, key string) error {
	ctx, sp := w.start(ctx, "ClearFailures")
	err := w.st.ClearFailures(ctx, key)
	end(sp, err)
	return err
}

func (w *Store) Close() error {
	return w.st.Close()
}

func (w *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	ctx, sp := w.start(ctx, "CreateAuthCode")
	err := w.st.CreateAuthCode(ctx, c)
	end(sp, err)
	return err
}

func (w *Store) CreateClient(ctx context.Context, c store.Client) error {
	ctx, sp := w.start(ctx, "CreateClient")
	err := w.st.CreateClient(ctx, c)
	end(sp, err)
	return err
}

func (w *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	ctx, sp := w.start(ctx, "CreateDeviceCode")
	err := w.st.CreateDeviceCode(ctx, d)
	end(sp, err)
	return err
}

func (w *Store) CreateInitialToken(ctx context.Context, t store.InitialToken) error {
	ctx, sp := w.start(ctx, "CreateInitialToken")
	err := w.st.CreateInitialToken(ctx, t)
	end(sp, err)
	return err
}

func (w *Store) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	ctx, sp := w.start(ctx, "CreatePushedRequest")
	err := w.st.CreatePushedRequest(ctx, p)
	end(sp, err)
	return err
}

func (w *Store) CreateSession(ctx context.Context, s store.Session) error {
	ctx, sp := w.start(ctx, "CreateSession")
	err := w.st.CreateSession(ctx, s)
	end(sp, err)
	return err
}

func (w *Store) CreateUser(ctx context.Context, u store.User) error {
	ctx, sp := w.start(ctx, "CreateUser")
	err := w.st.CreateUser(ctx, u)
	end(sp, err)
	return err
}

func (w *Store) DecideDeviceCode(ctx context.Context, userCodeDigest string, d store.DeviceDecision) error {
	ctx, sp := w.start(ctx, "DecideDeviceCode")
	err := w.st.DecideDeviceCode(ctx, userCodeDigest, d)
	end(sp, err)
	return err
}

func (w *Store) DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, sp := w.start(ctx, "DeleteAuditEventsBefore")
	r0, err := w.st.DeleteAuditEventsBefore(ctx, before, limit)
	end(sp, err)
	return r0, err
}

func (w *Store) DeleteClient(ctx context.Context, id string) error {
	ctx, sp := w.start(ctx, "DeleteClient")
	err := w.st.DeleteClient(ctx, id)
	end(sp, err)
	return err
}

func (w *Store) DeleteConsent(ctx context.Context, userID string, clientID string) error {
	ctx, sp := w.start(ctx, "DeleteConsent")
	err := w.st.DeleteConsent(ctx, userID, clientID)
	end(sp, err)
	return err
}

func (w *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, sp := w.start(ctx, "DeleteExpired")
	r0, err := w.st.DeleteExpired(ctx, now, limit)
	end(sp, err)
	return r0, err
}

func (w *Store) DeleteInitialToken(ctx context.Context, id string) error {
	ctx, sp := w.start(ctx, "DeleteInitialToken")
	err := w.st.DeleteInitialToken(ctx, id)
	end(sp, err)
	return err
}

func (w *Store) DeleteKey(ctx context.Context, kid string) error {
	ctx, sp := w.start(ctx, "DeleteKey")
	err := w.st.DeleteKey(ctx, kid)
	end(sp, err)
	return err
}

func (w *Store) DeleteSession(ctx context.Context, digest string) error {
	ctx, sp := w.start(ctx, "DeleteSession")
	err := w.st.DeleteSession(ctx, digest)
	end(sp, err)
	return err
}

func (w *Store) DeleteUser(ctx context.Context, id string) error {
	ctx, sp := w.start(ctx, "DeleteUser")
	err := w.st.DeleteUser(ctx, id)
	end(sp, err)
	return err
}

func (w *Store) GetAccessToken(ctx context.Context, digest string) (store.AccessToken, error) {
	ctx, sp := w.start(ctx, "GetAccessToken")
	r0, err := w.st.GetAccessToken(ctx, digest)
	end(sp, err)
	return r0, err
}

func (w *Store) GetAuthCode(ctx context.Context, digest string) (store.AuthCode, error) {
	ctx, sp := w.start(ctx, "GetAuthCode")
	r0, err := w.st.GetAuthCode(ctx, digest)
	end(sp, err)
	return r0, err
}

func (w *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	ctx, sp := w.start(ctx, "GetClient")
	r0, err := w.st.GetClient(ctx, id)
	end(sp, err)
	return r0, err
}

func (w *Store) GetConsent(ctx context.Context, userID string, clientID string) (store.Consent, error) {
	ctx, sp := w.start(ctx, "GetConsent")
	r0, err := w.st.GetConsent(ctx, userID, clientID)
	end(sp, err)
	return r0, err
}

func (w *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeDigest string, now time.Time) (store.DeviceCode, error) {
	ctx, sp := w.start(ctx, "GetDeviceCodeByUserCode")
	r0, err := w.st.GetDeviceCodeByUserCode(ctx, userCodeDigest, now)
	end(sp, err)
	return r0, err
}

func (w *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	ctx, sp := w.start(ctx, "GetGrant")
	r0, err := w.st.GetGrant(ctx, id)
	end(sp, err)
	return r0, err
}

func (w *Store) GetRefreshToken(ctx context.Context, digest string) (store.RefreshToken, error) {
	ctx, sp := w.start(ctx, "GetRefreshToken")
	r0, err := w.st.GetRefreshToken(ctx, digest)
	end(sp, err)
	return r0, err
}

func (w *Store) GetSession(ctx context.Context, digest string, now time.Time) (store.Session, error) {
	ctx, sp := w.start(ctx, "GetSession")
	r0, err := w.st.GetSession(ctx, digest, now)
	end(sp, err)
	return r0, err
}

func (w *Store) GetThrottles(ctx context.Context, keys []string, now time.Time) ([]store.Throttle, error) {
	ctx, sp := w.start(ctx, "GetThrottles")
	r0, err := w.st.GetThrottles(ctx, keys, now)
	end(sp, err)
	return r0, err
}

func (w *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	ctx, sp := w.start(ctx, "GetUser")
	r0, err := w.st.GetUser(ctx, id)
	end(sp, err)
	return r0, err
}

func (w *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	ctx, sp := w.start(ctx, "GetUserByUsername")
	r0, err := w.st.GetUserByUsername(ctx, username)
	end(sp, err)
	return r0, err
}

func (w *Store) IsRevoked(ctx context.Context, jti string, grantID string) (bool, error) {
	ctx, sp := w.start(ctx, "IsRevoked")
	r0, err := w.st.IsRevoked(ctx, jti, grantID)
	end(sp, err)
	return r0, err
}

func (w *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	ctx, sp := w.start(ctx, "ListAuditEvents")
	r0, err := w.st.ListAuditEvents(ctx, q)
	end(sp, err)
	return r0, err
}

func (w *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	ctx, sp := w.start(ctx, "ListClients")
	r0, err := w.st.ListClients(ctx)
	end(sp, err)
	return r0, err
}

func (w *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	ctx, sp := w.start(ctx, "ListConsents")
	r0, err := w.st.ListConsents(ctx, userID)
	end(sp, err)
	return r0, err
}

func (w *Store) ListInitialTokens(ctx context.Context) ([]store.InitialToken, error) {
	ctx, sp := w.start(ctx, "ListInitialTokens")
	r0, err := w.st.ListInitialTokens(ctx)
	end(sp, err)
	return r0, err
}

func (w *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	ctx, sp := w.start(ctx, "ListKeys")
	r0, err := w.st.ListKeys(ctx)
	end(sp, err)
	return r0, err
}

func (w *Store) ListOperatorClients(ctx context.Context) ([]store.Client, error) {
	ctx, sp := w.start(ctx, "ListOperatorClients")
	r0, err := w.st.ListOperatorClients(ctx)
	end(sp, err)
	return r0, err
}

func (w *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	ctx, sp := w.start(ctx, "ListSessions")
	r0, err := w.st.ListSessions(ctx, userID, now)
	end(sp, err)
	return r0, err
}

func (w *Store) ListUserGrants(ctx context.Context, userID string, clientID string, now time.Time) ([]store.Grant, error) {
	ctx, sp := w.start(ctx, "ListUserGrants")
	r0, err := w.st.ListUserGrants(ctx, userID, clientID, now)
	end(sp, err)
	return r0, err
}

func (w *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	ctx, sp := w.start(ctx, "ListUsers")
	r0, err := w.st.ListUsers(ctx)
	end(sp, err)
	return r0, err
}

func (w *Store) Ping(ctx context.Context) error {
	ctx, sp := w.start(ctx, "Ping")
	err := w.st.Ping(ctx)
	end(sp, err)
	return err
}

func (w *Store) PollDeviceCode(ctx context.Context, digest string, clientID string, now time.Time) (store.DeviceCode, error) {
	ctx, sp := w.start(ctx, "PollDeviceCode")
	r0, err := w.st.PollDeviceCode(ctx, digest, clientID, now)
	end(sp, err)
	return r0, err
}

func (w *Store) RedeemAuthCode(ctx context.Context, digest string, now time.Time, iss store.Issue) error {
	ctx, sp := w.start(ctx, "RedeemAuthCode")
	err := w.st.RedeemAuthCode(ctx, digest, now, iss)
	end(sp, err)
	return err
}

func (w *Store) RedeemDeviceCode(ctx context.Context, digest string, clientID string, now time.Time, iss store.Issue) error {
	ctx, sp := w.start(ctx, "RedeemDeviceCode")
	err := w.st.RedeemDeviceCode(ctx, digest, clientID, now, iss)
	end(sp, err)
	return err
}

func (w *Store) RedirectURIsOfOrigin(ctx context.Context, origin string) ([]string, error) {
	ctx, sp := w.start(ctx, "RedirectURIsOfOrigin")
	r0, err := w.st.RedirectURIsOfOrigin(ctx, origin)
	end(sp, err)
	return r0, err
}

func (w *Store) RegisterClient(ctx context.Context, c store.Client, max int) error {
	ctx, sp := w.start(ctx, "RegisterClient")
	err := w.st.RegisterClient(ctx, c, max)
	end(sp, err)
	return err
}

func (w *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	ctx, sp := w.start(ctx, "RevokeGrant")
	err := w.st.RevokeGrant(ctx, id, now)
	end(sp, err)
	return err
}

func (w *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	ctx, sp := w.start(ctx, "RevokeJTI")
	err := w.st.RevokeJTI(ctx, jti, exp)
	end(sp, err)
	return err
}

func (w *Store) RotateRefreshToken(ctx context.Context, r store.Rotation) (store.RefreshToken, error) {
	ctx, sp := w.start(ctx, "RotateRefreshToken")
	r0, err := w.st.RotateRefreshToken(ctx, r)
	end(sp, err)
	return r0, err
}

func (w *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	ctx, sp := w.start(ctx, "SaveConsent")
	err := w.st.SaveConsent(ctx, c)
	end(sp, err)
	return err
}

func (w *Store) SaveIssue(ctx context.Context, iss store.Issue) error {
	ctx, sp := w.start(ctx, "SaveIssue")
	err := w.st.SaveIssue(ctx, iss)
	end(sp, err)
	return err
}

func (w *Store) SetClientSecret(ctx context.Context, id string, secretHash string, now time.Time) error {
	ctx, sp := w.start(ctx, "SetClientSecret")
	err := w.st.SetClientSecret(ctx, id, secretHash, now)
	end(sp, err)
	return err
}

func (w *Store) SetUserPassword(ctx context.Context, id string, passwordHash string, now time.Time) error {
	ctx, sp := w.start(ctx, "SetUserPassword")
	err := w.st.SetUserPassword(ctx, id, passwordHash, now)
	end(sp, err)
	return err
}

func (w *Store) TakePushedRequest(ctx context.Context, digest string, clientID string, now time.Time) (store.PushedRequest, error) {
	ctx, sp := w.start(ctx, "TakePushedRequest")
	r0, err := w.st.TakePushedRequest(ctx, digest, clientID, now)
	end(sp, err)
	return r0, err
}

func (w *Store) TouchSession(ctx context.Context, digest string, at time.Time, ip string) error {
	ctx, sp := w.start(ctx, "TouchSession")
	err := w.st.TouchSession(ctx, digest, at, ip)
	end(sp, err)
	return err
}

func (w *Store) UpdateRegisteredClient(ctx context.Context, c store.Client, tokenHash string) error {
	ctx, sp := w.start(ctx, "UpdateRegisteredClient")
	err := w.st.UpdateRegisteredClient(ctx, c, tokenHash)
	end(sp, err)
	return err
}

func (w *Store) UpsertClient(ctx context.Context, c store.Client) error {
	ctx, sp := w.start(ctx, "UpsertClient")
	err := w.st.UpsertClient(ctx, c)
	end(sp, err)
	return err
}

func (w *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	ctx, sp := w.start(ctx, "UpsertUser")
	r0, err := w.st.UpsertUser(ctx, u)
	end(sp, err)
	return r0, err
}

func (w *Store) UseInitialToken(ctx context.Context, digest string, now time.Time) error {
	ctx, sp := w.start(ctx, "UseInitialToken")
	err := w.st.UseInitialToken(ctx, digest, now)
	end(sp, err)
	return err
}

func (w *Store) UseOnce(ctx context.Context, key string, exp time.Time, now time.Time) (bool, error) {
	ctx, sp := w.start(ctx, "UseOnce")
	r0, err := w.st.UseOnce(ctx, key, exp, now)
	end(sp, err)
	return r0, err
}

func (w *Store) ListClientGrantsPage(ctx context.Context, q store.GrantQuery) ([]store.Grant, error) {
	a, err := w.admin()
	if err != nil {
		return nil, err
	}
	ctx, sp := w.start(ctx, "ListClientGrantsPage")
	r0, err := a.ListClientGrantsPage(ctx, q)
	end(sp, err)
	return r0, err
}

func (w *Store) ListClientsPage(ctx context.Context, q store.ClientQuery) ([]store.Client, error) {
	a, err := w.admin()
	if err != nil {
		return nil, err
	}
	ctx, sp := w.start(ctx, "ListClientsPage")
	r0, err := a.ListClientsPage(ctx, q)
	end(sp, err)
	return r0, err
}

func (w *Store) ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	a, err := w.admin()
	if err != nil {
		return nil, err
	}
	ctx, sp := w.start(ctx, "ListUsersPage")
	r0, err := a.ListUsersPage(ctx, q)
	end(sp, err)
	return r0, err
}

func (w *Store) ReplaceClient(ctx context.Context, c store.Client, match func(store.Client) bool) error {
	a, err := w.admin()
	if err != nil {
		return err
	}
	ctx, sp := w.start(ctx, "ReplaceClient")
	err = a.ReplaceClient(ctx, c, match)
	end(sp, err)
	return err
}

func (w *Store) DeleteClientIf(ctx context.Context, id string, match func(store.Client) bool) error {
	a, err := w.admin()
	if err != nil {
		return err
	}
	ctx, sp := w.start(ctx, "DeleteClientIf")
	err = a.DeleteClientIf(ctx, id, match)
	end(sp, err)
	return err
}

func (w *Store) DeleteUserIf(ctx context.Context, id string, match func(store.User) bool) error {
	a, err := w.admin()
	if err != nil {
		return err
	}
	ctx, sp := w.start(ctx, "DeleteUserIf")
	err = a.DeleteUserIf(ctx, id, match)
	end(sp, err)
	return err
}

func (w *Store) ReplaceUser(ctx context.Context, u store.User, match func(store.User) bool) error {
	a, err := w.admin()
	if err != nil {
		return err
	}
	ctx, sp := w.start(ctx, "ReplaceUser")
	err = a.ReplaceUser(ctx, u, match)
	end(sp, err)
	return err
}

func (w *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	ctx, sp := w.start(ctx, "CreateFactor")
	err := w.st.CreateFactor(ctx, f)
	end(sp, err)
	return err
}

func (w *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	ctx, sp := w.start(ctx, "ListFactors")
	r0, err := w.st.ListFactors(ctx, userID)
	end(sp, err)
	return r0, err
}

func (w *Store) ConfirmFactor(ctx context.Context, userID, id string, counter int64, now time.Time, recovery []string) error {
	ctx, sp := w.start(ctx, "ConfirmFactor")
	err := w.st.ConfirmFactor(ctx, userID, id, counter, now, recovery)
	end(sp, err)
	return err
}

func (w *Store) UseFactor(ctx context.Context, userID, id string, counter int64, now time.Time) error {
	ctx, sp := w.start(ctx, "UseFactor")
	err := w.st.UseFactor(ctx, userID, id, counter, now)
	end(sp, err)
	return err
}

func (w *Store) AddFactor(ctx context.Context, f store.Factor, recovery []string) error {
	ctx, sp := w.start(ctx, "AddFactor")
	err := w.st.AddFactor(ctx, f, recovery)
	end(sp, err)
	return err
}

func (w *Store) UpdateFactor(ctx context.Context, userID, id string, counter, next int64, data []byte, now time.Time) error {
	ctx, sp := w.start(ctx, "UpdateFactor")
	err := w.st.UpdateFactor(ctx, userID, id, counter, next, data, now)
	end(sp, err)
	return err
}

func (w *Store) DeleteFactor(ctx context.Context, userID, id string) (int, error) {
	ctx, sp := w.start(ctx, "DeleteFactor")
	r0, err := w.st.DeleteFactor(ctx, userID, id)
	end(sp, err)
	return r0, err
}

func (w *Store) DeleteFactors(ctx context.Context, userID string) (int, error) {
	ctx, sp := w.start(ctx, "DeleteFactors")
	r0, err := w.st.DeleteFactors(ctx, userID)
	end(sp, err)
	return r0, err
}

func (w *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, now time.Time) error {
	ctx, sp := w.start(ctx, "ReplaceRecoveryCodes")
	err := w.st.ReplaceRecoveryCodes(ctx, userID, digests, now)
	end(sp, err)
	return err
}

func (w *Store) UseRecoveryCode(ctx context.Context, userID, digest string, now time.Time) error {
	ctx, sp := w.start(ctx, "UseRecoveryCode")
	err := w.st.UseRecoveryCode(ctx, userID, digest, now)
	end(sp, err)
	return err
}

func (w *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	ctx, sp := w.start(ctx, "CountRecoveryCodes")
	r0, err := w.st.CountRecoveryCodes(ctx, userID)
	end(sp, err)
	return r0, err
}
