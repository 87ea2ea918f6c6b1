// Package enrollclient is the node side of identity-verified key
// enrollment: it asks a zapgate broker's enrollment endpoint (HTTPS on the
// admin listener) which OpenID provider and client to use, signs a person in
// with the OAuth 2.0 device authorization grant (RFC 8628) at that provider,
// and presents the resulting ID token to the broker to bind a node's CURVE
// public key to a principal (POST /v1/enroll) or to give the second
// approval of a pending binding (POST /v1/enroll/approve).
//
// An enrollment proves that the node holds the key's secret: the client
// fetches a one-time challenge with the broker's ephemeral X25519 key
// (GET /v1/enroll/challenge) and answers it with an HMAC keyed by the
// X25519 secret of the node's key and the broker's (Proof). The node's
// secret key never leaves the machine.
//
// The broker decides; this package only carries the request and reports the
// answer. A refusal is an *Error carrying the broker's machine-readable code
// (forbidden, key-bound, token-replayed, ...). `zapgate enroll` and `zapgate
// keys approve` in cmd/zapgate are thin wrappers around it.
package enrollclient
