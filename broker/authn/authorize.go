package authn

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// Authorizer is the broker's per-message check (broker.Authorizer): it
// re-runs the chain from current server-side state for the connection's
// User-Id and key, so a revoked key, a disabled account or a shrunk role
// takes effect at the peer's next message.
type Authorizer struct {
	c   Chain
	log *slog.Logger
}

var _ broker.Authorizer = (*Authorizer)(nil)

// NewAuthorizer returns an Authorizer over c.
func NewAuthorizer(c Chain) *Authorizer {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authorizer{c: c, log: log.With("component", "authn")}
}

// IdentityRuleID prefixes the rule id of a refusal that the identity
// checks made before the policy was consulted, e.g. "identity:key-revoked".
const IdentityRuleID = "identity:"

// Authorize implements broker.Authorizer. Identity refusals (revoked,
// expired or rebound key, unknown or disabled principal) are denials that
// cite a rule "identity:<reason>"; an unreachable directory or a failing
// registry is an error, which the broker turns into a refusal.
func (a *Authorizer) Authorize(ctx context.Context, peer broker.Peer, action policy.Action) (policy.Decision, error) {
	if peer.UserID == "" {
		return identityDenial("no-user-id"), nil
	}
	key, err := certs.ParsePublicKey(peer.Key)
	if err != nil {
		return identityDenial("no-key"), nil
	}
	v := a.c.resolve(ctx, key, peer.UserID)
	if v.reason != "" {
		if v.status == zap.StatusDenied {
			return identityDenial(v.reason), nil
		}
		return policy.Decision{}, fmt.Errorf("authn: %s for %q: %w", v.reason, peer.UserID, v.cause)
	}
	if action.Kind == policy.Connect && !action.Source.IsValid() {
		action.Source, _ = netip.ParseAddr(peer.Address)
	}
	d := a.c.Policy.Decide(v.subject(), action)
	if v.identity.Stale {
		a.log.Warn("decision from a stale directory answer", "user.name", peer.UserID, "action", action.String(), "outcome", d.Outcome())
	}
	return d, nil
}

func identityDenial(reason string) policy.Decision {
	return policy.Decision{Rule: policy.Rule{Kind: policy.RuleDeny, ID: IdentityRuleID + reason, Reason: reason}}
}
