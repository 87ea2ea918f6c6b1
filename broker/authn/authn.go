// Package authn is zapgate's zap.Authenticator and the broker's
// per-message authorizer. Both follow one chain from server-side state:
// CURVE key → principal (key registry) → identity (directory) → decision
// (policy) → durable audit record, and only then a grant.
package authn

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/internal/routingid"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// Authorization properties that every ZAP reply sets (empty when unknown),
// so a peer's own ZMTP metadata can never stand in for them.
const (
	// PropKey carries the peer's CURVE public key in Z85, so the broker can
	// re-check the key's binding on every message (revocation).
	PropKey = "X-Zapgate-Key"
	// PropRoles carries the peer's roles at connect time, comma-separated.
	// It is informational: the broker authorizes from current state.
	PropRoles = "X-Zapgate-Roles"
)

// Properties lists the authorization property names for zap.Config.
func Properties() []string { return []string{PropKey, PropRoles} }

// Keys finds the binding of a public key; certs.Registry implements it.
type Keys interface {
	Lookup(key certs.PublicKey) (certs.Binding, error)
}

// Policy decides actions; policy.Store and policy.Policy implement it.
type Policy interface {
	Decide(subject policy.Subject, action policy.Action) policy.Decision
}

// Recorder writes an audit record durably; audit.Log implements it. On
// error the grant is refused unless audit.MayProceed(err).
type Recorder interface {
	Append(ctx context.Context, rec audit.Record) (audit.Receipt, error)
}

// Chain holds the components every decision consults.
type Chain struct {
	// Keys is the key registry.
	Keys Keys
	// Directory answers who a principal is and which groups it has.
	Directory idp.Directory
	// Policy decides.
	Policy Policy
	// Audit records every decision.
	Audit Recorder
	// Unauthenticated, when set, takes the records of refusals of peers
	// nobody identified (unknown key, not CURVE) instead of Audit: bounded
	// per source and never waited for. Nil writes them through Audit.
	Unauthenticated Unauthenticated
	// RefusalLines, when set, bounds the debug lines about refusals of
	// unidentified peers per source (flood.LineLimiter); nil logs each.
	RefusalLines LineBudget
	// Logger receives one line per decision (nil discards).
	Logger *slog.Logger
	// ShutOut, if set, names the keys the broker shut out after repeated
	// offences (shutout.List); their handshakes are refused.
	ShutOut ShutOut
	// RoutingIDs mints the routing id of each accepted connection, set in
	// the ZAP reply (zap.Result.RoutingID) so the broker, not the peer,
	// chooses how it addresses the connection; give the broker the same
	// Minter (broker.Config.RoutingIDs). Nil sets none, and a broker then
	// drops every message of the connection.
	RoutingIDs *routingid.Minter
}

// ShutOut says whether a key (Z85) is shut out; shutout.List implements it.
type ShutOut interface {
	ShutOut(key string) (principal string, until time.Time, ok bool)
}

// Authenticator answers ZAP requests through a Chain.
type Authenticator struct {
	c   Chain
	log *slog.Logger
}

// New returns an Authenticator over c.
func New(c Chain) *Authenticator {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{c: c, log: log.With("component", "authn")}
}

// Authenticate implements zap.Authenticator. Refusals are decisions (a
// Result with 300 or 400 and a nil error); an error is returned only when
// no decision could be made.
func (a *Authenticator) Authenticate(ctx context.Context, req *zap.Request) (zap.Result, error) {
	src, _ := netip.ParseAddr(req.Address)
	rec := audit.Record{Action: audit.ActionConnect, SourceIP: src}
	raw, ok := req.CurveKey()
	if !ok {
		return a.refuse(ctx, rec, zap.StatusDenied, ReasonMechanism, nil)
	}
	key := certs.PublicKey(raw)
	rec.Key = key.Fingerprint()
	if a.c.ShutOut != nil {
		if p, _, out := a.c.ShutOut.ShutOut(key.String()); out {
			rec.User = p
			return a.refuse(ctx, rec, zap.StatusDenied, ReasonShutOut, nil)
		}
	}
	v := a.c.resolve(ctx, key, "")
	rec.User, rec.Groups, rec.Stale = v.principal, v.identity.Groups, v.identity.Stale
	if v.reason != "" {
		return a.refuse(ctx, rec, v.status, v.reason, v.cause)
	}
	d := a.c.Policy.Decide(v.subject(), policy.Action{Kind: policy.Connect, Source: src})
	rec.Roles, rec.RuleID, rec.Ruleset, rec.PolicyHash = d.Roles, d.Rule.ID, d.Revision, d.PolicyHash
	if !d.Allow {
		return a.refuse(ctx, rec, zap.StatusDenied, ReasonPolicy, nil)
	}
	rec.Outcome = audit.OutcomeSuccess
	if _, err := a.c.Audit.Append(ctx, rec); err != nil && !audit.MayProceed(err) {
		a.log.Error("refused: audit record not durable", "user.name", v.principal, "key", rec.Key, "error", err)
		return zap.Result{Status: zap.StatusTempFail, StatusText: ReasonAudit}, nil
	}
	a.log.Info("accepted", "user.name", v.principal, "user.roles", d.Roles, "key", rec.Key,
		"source.ip", req.Address, "rule.id", d.Rule.ID, "stale", v.identity.Stale)
	res := zap.Result{
		Status:     zap.StatusOK,
		StatusText: "OK",
		UserID:     v.principal,
		Properties: map[string]string{PropKey: key.String(), PropRoles: strings.Join(d.Roles, ",")},
	}
	return a.withRoutingID(res)
}

// withRoutingID sets a freshly minted routing id on an accepting result.
func (a *Authenticator) withRoutingID(res zap.Result) (zap.Result, error) {
	if a.c.RoutingIDs == nil {
		return res, nil
	}
	rid, err := a.c.RoutingIDs.Mint(res.Properties[PropKey], res.UserID)
	if err != nil {
		return zap.Result{}, fmt.Errorf("authn: routing id for %q: %w", res.UserID, err)
	}
	res.RoutingID = rid
	return res, nil
}

// refuse audits and logs a refusal and returns its Result. A refusal whose
// record cannot be written is still a refusal.
func (a *Authenticator) refuse(ctx context.Context, rec audit.Record, status zap.Status, reason string, cause error) (zap.Result, error) {
	if a.c.Unauthenticated != nil && unidentified(reason) {
		return a.refuseUnidentified(rec, status, reason)
	}
	rec.Outcome, rec.Reason = audit.OutcomeFailure, reason
	if _, err := a.c.Audit.Append(ctx, rec); err != nil {
		a.log.Error("audit record of a refusal not durable", "reason", reason, "error", err)
	}
	args := []any{"reason", reason, "user.name", rec.User, "key", rec.Key, "source.ip", rec.SourceIP, "status", int(status)}
	if rec.RuleID != "" {
		args = append(args, "rule.id", rec.RuleID)
	}
	if cause != nil {
		args = append(args, "cause", cause)
	}
	a.log.Info("refused", args...)
	return zap.Result{Status: status, StatusText: reason}, nil
}
