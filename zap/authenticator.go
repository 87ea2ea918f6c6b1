package zap

import (
	"context"
	"fmt"
)

// Status is a ZAP reply status code (RFC 27 section "Reply").
type Status int

// The four status codes RFC 27 allows in a reply.
const (
	// StatusOK (200) accepts the peer.
	StatusOK Status = 200
	// StatusTempFail (300) is a temporary failure: libzmq closes the
	// connection silently and the client retries.
	StatusTempFail Status = 300
	// StatusDenied (400) is an authentication failure: libzmq sends an ERROR
	// command and the client does not reconnect.
	StatusDenied Status = 400
	// StatusInternal (500) is an internal error in the handler.
	StatusInternal Status = 500
)

// String returns the three-digit code as text.
func (s Status) String() string { return fmt.Sprintf("%d", int(s)) }

// Valid reports whether s is one of the four codes RFC 27 allows.
func (s Status) Valid() bool {
	switch s {
	case StatusOK, StatusTempFail, StatusDenied, StatusInternal:
		return true
	}
	return false
}

// Result is an Authenticator's decision about one handshake.
//
// A Result with Status 200 accepts the peer as UserID with Properties. Any
// other status refuses it; StatusText is a short code sent to the peer
// (never an internal cause).
type Result struct {
	// Status is the reply code.
	Status Status
	// StatusText is a short, non-sensitive reason sent in the reply.
	StatusText string
	// UserID is the authenticated principal (only for Status 200).
	UserID string
	// Properties are authorization metadata attached to the connection
	// (only for Status 200). Names must be valid ZMTP property names; the
	// reserved names (User-Id, Identity, Routing-Id, Socket-Type,
	// Peer-Address) are refused.
	Properties map[string]string
	// RoutingID, when not empty (only for Status 200), is sent as the
	// reply's "Identity" metadata. libzmq 4.3.4 then makes it the peer's
	// routing id on a ROUTER socket, overriding the id the peer asked for
	// in its own handshake, so the server, not the peer, chooses how it
	// addresses the connection. 1 to MaxRoutingIDLen bytes, the first not
	// zero (libzmq reserves those ids for its own).
	RoutingID string
}

// MaxRoutingIDLen is the longest Result.RoutingID libzmq accepts.
const MaxRoutingIDLen = 255

// PropertyIdentity is the ZMTP metadata name that carries a routing id
// (Result.RoutingID), spelled as libzmq compares it.
const PropertyIdentity = "Identity"

// Authenticator decides whether a handshake is accepted.
//
// An error means a technical failure (directory down, audit unwritable),
// never "bad credentials": the server answers 500 for it, or 300 when the
// error wraps ErrTemporary or the context expired. A refusal is a Result
// with Status 300 or 400 and a nil error.
type Authenticator interface {
	Authenticate(ctx context.Context, req *Request) (Result, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(ctx context.Context, req *Request) (Result, error)

// Authenticate calls f(ctx, req).
func (f AuthenticatorFunc) Authenticate(ctx context.Context, req *Request) (Result, error) {
	return f(ctx, req)
}
