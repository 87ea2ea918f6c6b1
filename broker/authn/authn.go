// Package authn is zapgate's zap.Authenticator: it maps a connecting node's
// CURVE public key to a principal through the key registry and answers the
// ZAP request. Later issues add the directory lookup, the policy connect
// decision and the durable audit record to the same chain.
package authn

import (
	"context"
	"errors"
	"log/slog"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

// Authorization properties that every ZAP reply sets (empty when unknown),
// so a peer's own ZMTP metadata can never stand in for them.
const (
	// PropKey carries the peer's CURVE public key in Z85, so the broker can
	// re-check the key's binding on every message (revocation).
	PropKey = "X-Zapgate-Key"
	// PropRoles carries the peer's roles, comma-separated (empty until the
	// policy engine is wired in).
	PropRoles = "X-Zapgate-Roles"
)

// Properties lists the authorization property names for zap.Config.
func Properties() []string { return []string{PropKey, PropRoles} }

// Refusal codes sent as the ZAP status text; they are short and reveal
// nothing about the registry's contents beyond the class of refusal.
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
)

// Keys finds the binding of a public key; certs.Registry implements it.
type Keys interface {
	Lookup(key certs.PublicKey) (certs.Binding, error)
}

// Authenticator answers ZAP requests from the key registry.
type Authenticator struct {
	keys Keys
	log  *slog.Logger
}

// New returns an Authenticator over keys. A nil logger discards logs.
func New(keys Keys, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{keys: keys, log: log.With("component", "authn")}
}

// Authenticate implements zap.Authenticator. Refusals are decisions (a
// Result, nil error); only a failure to decide is an error.
func (a *Authenticator) Authenticate(ctx context.Context, req *zap.Request) (zap.Result, error) {
	raw, ok := req.CurveKey()
	if !ok {
		a.log.Warn("refused", "reason", ReasonMechanism, "mechanism", req.Mechanism, "source.ip", req.Address)
		return deny(ReasonMechanism), nil
	}
	key := certs.PublicKey(raw)
	b, err := a.keys.Lookup(key)
	if err != nil {
		reason := ReasonUnknownKey
		switch {
		case errors.Is(err, certs.ErrExpired):
			reason = ReasonExpired
		case errors.Is(err, certs.ErrConflict):
			reason = ReasonConflict
		case errors.Is(err, certs.ErrRevoked):
			reason = ReasonRevoked
		case errors.Is(err, certs.ErrUnknownKey):
		default:
			return zap.Result{}, err
		}
		a.log.Info("refused", "reason", reason, "key", key.Fingerprint(), "source.ip", req.Address, "cause", err)
		return deny(reason), nil
	}
	a.log.Info("accepted", "user.name", b.Principal, "key", key.Fingerprint(), "source.ip", req.Address)
	return zap.Result{
		Status:     zap.StatusOK,
		StatusText: "OK",
		UserID:     b.Principal,
		Properties: map[string]string{PropKey: key.String(), PropRoles: ""},
	}, nil
}

func deny(reason string) zap.Result {
	return zap.Result{Status: zap.StatusDenied, StatusText: reason}
}
