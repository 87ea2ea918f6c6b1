package authn

import (
	"context"
	"errors"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// Refusal codes: sent as the ZAP status text, in broker refusals and in
// audit records (event.reason). They reveal the class of refusal only.
const (
	// ReasonMechanism: the handshake did not use CURVE.
	ReasonMechanism = "mechanism-not-allowed"
	// ReasonUnknownKey: no binding for this key.
	ReasonUnknownKey = "unknown-key"
	// ReasonExpired: the binding has expired.
	ReasonExpired = "key-expired"
	// ReasonConflict: two registry files bind the key; neither is trusted.
	ReasonConflict = "key-conflict"
	// ReasonRevoked: the key was revoked.
	ReasonRevoked = "key-revoked"
	// ReasonRebound: the key is now bound to another principal than the
	// connection's User-Id.
	ReasonRebound = "key-rebound"
	// ReasonRegistry: the registry failed (not a decision; 500).
	ReasonRegistry = "registry-error"
	// ReasonUnknownPrincipal: the directory does not know the principal.
	ReasonUnknownPrincipal = "unknown-principal"
	// ReasonDisabled: the account is disabled, expired, locked or suspended.
	ReasonDisabled = "account-disabled"
	// ReasonDirectory: the directory is unreachable and has no usable
	// cached answer (300: the node retries).
	ReasonDirectory = "directory-unavailable"
	// ReasonPolicy: the policy denies the action.
	ReasonPolicy = "policy-denied"
	// ReasonAudit: the audit record could not be made durable.
	ReasonAudit = "audit-unavailable"
	// ReasonShutOut: the broker shut the key out for a while after
	// repeated offences against its limits (docs/security.md).
	ReasonShutOut = "shut-out"
)

// verdict is the outcome of resolving a key to an identity.
type verdict struct {
	principal string
	identity  idp.Identity
	status    zap.Status // refusal status when reason != ""
	reason    string
	cause     error
}

func (v *verdict) subject() policy.Subject {
	return policy.Subject{Principal: v.principal, Groups: v.identity.Groups}
}

// resolve maps a key to an enabled identity. When want is not empty the
// key must still be bound to that principal (a live connection's User-Id).
func (c *Chain) resolve(ctx context.Context, key certs.PublicKey, want string) verdict {
	b, err := c.Keys.Lookup(key)
	if err != nil {
		v := verdict{status: zap.StatusDenied, cause: err}
		// An expired or revoked binding still names its principal: the
		// refusal's record says whose key it was (never sent to the peer).
		if le := (*certs.LookupError)(nil); errors.As(err, &le) {
			v.principal = le.Principal
		}
		switch {
		case errors.Is(err, certs.ErrExpired):
			v.reason = ReasonExpired
		case errors.Is(err, certs.ErrConflict):
			v.reason = ReasonConflict
		case errors.Is(err, certs.ErrRevoked):
			v.reason = ReasonRevoked
		case errors.Is(err, certs.ErrUnknownKey):
			v.reason = ReasonUnknownKey
		case errors.Is(err, idp.ErrUnavailable):
			v.status, v.reason = zap.StatusTempFail, ReasonDirectory
		default:
			v.status, v.reason = zap.StatusInternal, ReasonRegistry
		}
		return v
	}
	v := verdict{principal: b.Principal}
	if want != "" && b.Principal != want {
		v.status, v.reason = zap.StatusDenied, ReasonRebound
		return v
	}
	id, err := c.Directory.Lookup(ctx, b.Principal)
	switch {
	case errors.Is(err, idp.ErrNotFound):
		v.status, v.reason, v.cause = zap.StatusDenied, ReasonUnknownPrincipal, err
	case err != nil:
		v.status, v.reason, v.cause = zap.StatusTempFail, ReasonDirectory, err
	case !id.Enabled:
		v.identity = id
		v.status, v.reason = zap.StatusDenied, ReasonDisabled
	default:
		v.identity = id
	}
	return v
}
