package certs

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reason says why Registry.Lookup refused a key.
type Reason int

// The reasons Lookup refuses a key.
const (
	// ReasonUnknown: no registry file binds the key (or its file is gone).
	ReasonUnknown Reason = iota + 1
	// ReasonExpired: the binding's expires time has passed.
	ReasonExpired
	// ReasonConflict: more than one registry file binds the key, so none is
	// trusted.
	ReasonConflict
	// ReasonRevoked: the key is in the registry's revoked/ directory.
	ReasonRevoked
)

// String returns "unknown", "expired", "conflict" or "revoked", suitable as
// an audit event.reason.
func (r Reason) String() string {
	switch r {
	case ReasonUnknown:
		return "unknown"
	case ReasonExpired:
		return "expired"
	case ReasonConflict:
		return "conflict"
	case ReasonRevoked:
		return "revoked"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Sentinel errors matched by errors.Is against a *LookupError of the same
// reason. A revoked key matches both ErrRevoked and ErrUnknownKey, so a
// caller that does not distinguish revocation still refuses it as unknown.
var (
	// ErrUnknownKey matches a LookupError with ReasonUnknown.
	ErrUnknownKey = errors.New("certs: unknown key")
	// ErrExpired matches a LookupError with ReasonExpired.
	ErrExpired = errors.New("certs: key binding expired")
	// ErrConflict matches a LookupError with ReasonConflict.
	ErrConflict = errors.New("certs: key bound by more than one file")
	// ErrRevoked matches a LookupError with ReasonRevoked (which matches
	// ErrUnknownKey too).
	ErrRevoked = errors.New("certs: key revoked")
)

// LookupError is the decision "this key is not trusted" from
// Registry.Lookup. It is not a technical failure: a ZAP handler maps it to a
// 400 reply. Its text names files and principals, so log it; do not send it
// to the peer.
type LookupError struct {
	// Reason says why the key is refused.
	Reason Reason
	// Key is the key that was looked up.
	Key PublicKey
	// Principal is the principal the key was bound to, for ReasonExpired
	// and for ReasonRevoked (as the file in revoked/ names it), so the
	// refusal's audit record can name it.
	Principal string
	// Expires is when the binding expired, for ReasonExpired.
	Expires time.Time
	// Files are the registry files involved: the conflicting files for
	// ReasonConflict, the file under revoked/ for ReasonRevoked, the
	// binding's file for ReasonExpired, or the vanished file for
	// ReasonUnknown after a removal.
	Files []string
}

// Error describes the refusal, naming the key by its fingerprint.
func (e *LookupError) Error() string {
	fp := e.Key.Fingerprint()
	switch e.Reason {
	case ReasonExpired:
		return fmt.Sprintf("certs: key %s of %q expired at %s (%s)", fp, e.Principal, e.Expires.UTC().Format(time.RFC3339), strings.Join(e.Files, ", "))
	case ReasonConflict:
		return fmt.Sprintf("certs: key %s is bound by more than one file (%s); none is trusted", fp, strings.Join(e.Files, ", "))
	case ReasonRevoked:
		return fmt.Sprintf("certs: key %s is revoked (%s)", fp, strings.Join(e.Files, ", "))
	}
	if len(e.Files) > 0 {
		return fmt.Sprintf("certs: key %s is not registered (file %s was removed or is no longer trusted)", fp, strings.Join(e.Files, ", "))
	}
	return fmt.Sprintf("certs: key %s is not registered", fp)
}

// Is matches the sentinel of e's reason; ReasonRevoked matches
// ErrUnknownKey as well as ErrRevoked.
func (e *LookupError) Is(target error) bool {
	switch target {
	case ErrUnknownKey:
		return e.Reason == ReasonUnknown || e.Reason == ReasonRevoked
	case ErrExpired:
		return e.Reason == ReasonExpired
	case ErrConflict:
		return e.Reason == ReasonConflict
	case ErrRevoked:
		return e.Reason == ReasonRevoked
	}
	return false
}
