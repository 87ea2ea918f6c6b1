package idp

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Identity is what a directory knows about one principal.
type Identity struct {
	// Principal is the name the key registry binds keys to: an AD account
	// name (PROXY01$), a UPN, a DN, or an Okta login.
	Principal string
	// DisplayName is a human-readable name, for logs and explain output.
	DisplayName string
	// Groups are the principal's groups, nested groups included, as the
	// policy names them: AD DNs or "okta:NAME".
	Groups []string
	// Enabled is false for disabled, expired, locked or suspended accounts.
	Enabled bool
	// Source names the directory that answered ("static", "ldap", "okta").
	Source string
	// FetchedAt is when the directory produced this answer.
	FetchedAt time.Time
	// Stale is true when the answer came from a cache during a directory
	// outage (within the configured grace); it is marked in audit records.
	Stale bool
}

// Clone returns a copy of id that shares no memory with it.
func (id Identity) Clone() Identity {
	id.Groups = slices.Clone(id.Groups)
	return id
}

// Directory looks principals up.
//
// Lookup returns ErrNotFound (wrapped) when the directory answered that the
// principal does not exist: a decision. Any other error is a technical
// failure (unreachable, timed out, misconfigured): callers treat it as an
// outage, refuse unknown principals with a temporary failure, and may serve
// a cached answer within a grace period.
type Directory interface {
	Lookup(ctx context.Context, principal string) (Identity, error)
}

// KeyFinder is an optional Directory capability: the directory stores each
// node's CURVE public key on its account and finds the principal by key.
// It returns ErrNotFound when no account carries the key.
type KeyFinder interface {
	FindByKey(ctx context.Context, key [32]byte) (principal string, err error)
}

// Closer is an optional capability of directories that hold resources
// (watchers, connection pools).
type Closer interface {
	Close() error
}

// ErrNotFound means the directory answered: no such principal (or key).
var ErrNotFound = errors.New("idp: principal not found")

// ErrUnavailable marks a technical failure of the directory; backends wrap
// their causes with it so callers can tell an outage from a decision.
var ErrUnavailable = errors.New("idp: directory unavailable")
