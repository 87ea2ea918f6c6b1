// Package enroll is the broker side of identity-verified key enrollment:
// the JSON endpoints under /v1/enroll that bind a new node's CURVE public
// key to a principal once a person, proven by an OpenID Connect ID token,
// is allowed to do so by the policy's enroll permission.
//
// A request is checked in a fixed order: the JSON body (size-limited);
// the proof of possession of the key (a one-time challenge from GET
// /v1/enroll/challenge answered with an HMAC keyed by the X25519 secret
// of the node's key and the broker's ephemeral key, so nobody binds a
// key they do not hold; checked before the token, so a bad proof never
// spends one); the ID token (issuer, audience, expiry and signature against the
// provider's keys, refetched when a token names an unknown key ID, so
// key rotation works, within a bound; azp when present or when there are
// several audiences); the token's single use (a persisted store of the
// hashes of the signed claims, so a re-encoded token is the same token,
// until their expiry); the requested principal (it must exist and
// be enabled in the directory); the person's groups (token claim or
// directory); the policy's enroll decision; and the key (not bound to
// another principal, not revoked). A grant is written durably to the
// audit log before the binding file is written into the key registry,
// where the broker's registry watcher picks it up. A rule may require a
// second approval by a different person: the request is then kept as
// pending until POST /v1/enroll/approve. Every refusal is audited with
// its reason. The HTTP contract is in docs/enrollment.md.
package enroll
