// Package wire is the HTTP contract of key enrollment (docs/enrollment.md):
// the JSON bodies, status and error codes, and the proof of possession,
// shared by the broker (package enroll) and the client (package
// enrollclient) so that the two cannot drift apart. It has no dependencies
// beyond the standard library.
package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// ClientConfig is the answer of GET /v1/enroll/config: what a client needs
// to run the device flow against the right provider.
type ClientConfig struct {
	// Issuer is the OpenID provider's issuer URL.
	Issuer string `json:"issuer"`
	// ClientID is the OAuth client to use; ID tokens must name it as
	// their audience.
	ClientID string `json:"client_id"`
	// Scopes are the scopes to request.
	Scopes []string `json:"scopes"`
}

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	// Principal is the principal the key is to be bound to, e.g.
	// "PROXY01$".
	Principal string `json:"principal"`
	// PublicKey is the node's CURVE public key, 40 characters of Z85.
	PublicKey string `json:"public_key"`
	// IDToken is the enrolling person's OpenID Connect ID token.
	IDToken string `json:"id_token"`
	// Challenge is a challenge from GET /v1/enroll/challenge, unused and
	// unexpired.
	Challenge string `json:"challenge"`
	// Proof proves that the node holds the secret key of PublicKey:
	// base64url(HMAC-SHA256(X25519(node secret, server_key),
	// ProofMessage(challenge, principal, public_key, id_token))).
	Proof string `json:"proof"`
}

// Challenge is the answer of GET /v1/enroll/challenge: a one-time
// challenge and the broker's ephemeral X25519 public key for the proof of
// possession of POST /v1/enroll.
type Challenge struct {
	// Challenge is 16 random bytes, base64url without padding.
	Challenge string `json:"challenge"`
	// ServerKey is the ephemeral public key, 40 characters of Z85.
	ServerKey string `json:"server_key"`
	// ExpiresAt is when the challenge can no longer be used.
	ExpiresAt time.Time `json:"expires_at"`
}

// ApproveRequest is the body of POST /v1/enroll/approve.
type ApproveRequest struct {
	// Fingerprint is the pending key's fingerprint, "SHA256:...".
	Fingerprint string `json:"fingerprint"`
	// IDToken is the approving person's ID token.
	IDToken string `json:"id_token"`
}

// Statuses of a Result.
const (
	// StatusBound: the key is bound (201).
	StatusBound = "bound"
	// StatusPending: the request waits for another approval (202).
	StatusPending = "pending"
	// StatusAlreadyBound: the key was already bound to this principal
	// (200); nothing changed.
	StatusAlreadyBound = "already-bound"
)

// Result is the success answer of POST /v1/enroll and
// POST /v1/enroll/approve.
type Result struct {
	// Status is bound, pending or already-bound.
	Status string `json:"status"`
	// Principal is the principal as the directory spells it.
	Principal string `json:"principal"`
	// Fingerprint is the key's fingerprint, "SHA256:...".
	Fingerprint string `json:"fingerprint"`
	// ApprovedBy names the people who approved so far, in order.
	ApprovedBy []string `json:"approved_by,omitempty"`
	// ApprovalsRequired is how many distinct approvers the binding needs
	// (pending answers only).
	ApprovalsRequired int `json:"approvals_required,omitempty"`
}

// PendingRequest is one entry of GET /v1/enroll/pending.
type PendingRequest struct {
	// Principal is the principal the key is to be bound to.
	Principal string `json:"principal"`
	// Fingerprint is the key's fingerprint.
	Fingerprint string `json:"fingerprint"`
	// ApprovedBy names the people who approved so far.
	ApprovedBy []string `json:"approved_by"`
	// ApprovalsRequired is how many distinct approvers the binding needs.
	ApprovalsRequired int `json:"approvals_required"`
	// RequestedAt is when the first approver asked.
	RequestedAt time.Time `json:"requested_at"`
	// ExpiresAt is when the request is dropped unless approved.
	ExpiresAt time.Time `json:"expires_at"`
}

// PendingList is the answer of GET /v1/enroll/pending.
type PendingList struct {
	// Pending are the requests the caller may approve, oldest first.
	Pending []PendingRequest `json:"pending"`
}

// ErrorResponse is the body of every refusal.
type ErrorResponse struct {
	// Error is a stable code, e.g. "invalid-token".
	Error string `json:"error"`
	// Message says why in words; for invalid-token it starts with the
	// reason: expired, audience, issuer, signature, malformed,
	// not-yet-valid or claims.
	Message string `json:"message"`
}

// Error codes of ErrorResponse, with their HTTP status.
const (
	// CodeBadRequest (400): malformed JSON, unknown fields, a body over
	// the limit, a bad principal, key or fingerprint.
	CodeBadRequest = "bad-request"
	// CodeInvalidToken (401): the ID token was refused.
	CodeInvalidToken = "invalid-token"
	// CodeInvalidProof (401): the challenge is unknown, used or expired,
	// or the proof does not show that the node holds the key.
	CodeInvalidProof = "invalid-proof"
	// CodeForbidden (403): the policy does not allow this person to
	// enroll this principal (the message cites the rule), or the person
	// is unknown or disabled in the directory.
	CodeForbidden = "forbidden"
	// CodePrincipalDisabled (403): the principal's account is disabled.
	CodePrincipalDisabled = "principal-disabled"
	// CodeUnknownPrincipal (404): the directory does not know the
	// principal.
	CodeUnknownPrincipal = "unknown-principal"
	// CodeKeyBound (409): the key is bound (or waits for approval) for
	// another principal, or was revoked.
	CodeKeyBound = "key-bound"
	// CodeTokenReplayed (409): the ID token was already used.
	CodeTokenReplayed = "token-replayed"
	// CodeSameApprover (409): this person already approved the request.
	CodeSameApprover = "same-approver"
	// CodeNotPending (404): no request with this fingerprint waits for
	// approval (never made, expired, or already bound).
	CodeNotPending = "not-pending"
	// CodeDirectoryUnavailable (503): the directory could not answer.
	CodeDirectoryUnavailable = "directory-unavailable"
	// CodeAuditUnavailable (503): the audit record could not be made
	// durable, so nothing was granted.
	CodeAuditUnavailable = "audit-unavailable"
	// CodeProviderUnavailable (503): the OpenID provider's discovery
	// document or keys could not be fetched.
	CodeProviderUnavailable = "provider-unavailable"
	// CodeInternal (500): the state store or key registry could not be
	// written.
	CodeInternal = "internal"
	// CodeRateLimited (429): this source sent more requests than
	// enroll.rate_limit allows; retry after the Retry-After header's
	// seconds.
	CodeRateLimited = "rate-limited"
)

// ProofContext starts every proof message; a new proof format gets a new
// context.
const ProofContext = "zapgate-enroll-v1"

// ProofMessage returns the message a proof authenticates:
//
//	"zapgate-enroll-v1" 0x00 challenge 0x00 principal 0x00 publicKey 0x00 hex(sha256(idToken))
//
// principal, publicKey (Z85) and idToken are exactly as sent in the
// request; the hex is lowercase.
func ProofMessage(challenge, principal, publicKey, idToken string) []byte {
	sum := sha256.Sum256([]byte(idToken))
	return []byte(strings.Join([]string{ProofContext, challenge, principal, publicKey, hex.EncodeToString(sum[:])}, "\x00"))
}

// ProofMAC returns HMAC-SHA256(shared, ProofMessage(...)): the proof before
// base64url encoding. shared is X25519(node secret, server key) on the
// client and X25519(server secret, node key) on the broker.
func ProofMAC(shared []byte, challenge, principal, publicKey, idToken string) []byte {
	mac := hmac.New(sha256.New, shared)
	mac.Write(ProofMessage(challenge, principal, publicKey, idToken))
	return mac.Sum(nil)
}
