package broker

import (
	"context"
	"time"

	"github.com/zapgate/zapgate/policy"
)

// Peer is what the broker knows of a connection, from the properties the
// ZAP handler set on it and nothing else: a peer's own ZMTP metadata and
// its routing id are never used as identity.
type Peer struct {
	// UserID is the principal, the ZAP reply's User-Id. The broker never
	// relays a message whose UserID is empty.
	UserID string
	// Key is the peer's CURVE public key in Z85, from the X-Zapgate-Key
	// property, so the Authorizer can check that the key is still bound.
	Key string
	// Address is the peer's IP address (libzmq's Peer-Address property).
	Address string
}

// Authorizer decides whether a peer may perform an action, from current
// server-side state keyed by Peer.UserID and Peer.Key: is the key still
// bound to the principal, is the principal still enabled in the
// directory, does the policy grant the action. The broker calls it for
// every message (and periodically for registered workers and
// subscriptions), from several goroutines at once, so it must be safe for
// concurrent use.
//
// A denial is a Decision with Allow false and a nil error. An error is a
// technical failure (directory down, no policy loaded); the broker then
// refuses the action (fail closed) with code 500.
//
// For Subscribe actions Action.Topic may be a pattern ("job.*",
// "job.**", see mdp.CheckPattern) when a node subscribes, and is a
// concrete topic when the broker checks a delivery. Allow a pattern only
// if every topic it can match is allowed.
type Authorizer interface {
	Authorize(ctx context.Context, peer Peer, action policy.Action) (policy.Decision, error)
}

// Recorder writes audit events durably. Record returns only once the
// event is stored; an error means it is not, and the broker then refuses
// the action the event grants (security invariant 5). The broker calls it
// from several goroutines at once.
type Recorder interface {
	Record(ctx context.Context, ev Event) error
}

// Offenders counts a peer's violations of the broker's limits per CURVE
// key and says which keys are shut out; shutout.List implements it. The
// broker calls it from its loop; the ZAP handler may consult the same
// list concurrently, so it must be safe for concurrent use.
type Offenders interface {
	// Offend records an offence of key (Z85) by principal and reports
	// whether it shut the key out.
	Offend(key, principal string) bool
	// ShutOut reports whether key is shut out now.
	ShutOut(key string) (principal string, until time.Time, ok bool)
}

// Event actions the broker records.
const (
	// ActionRequest: a client request (or an MMI lookup) was authorized
	// or refused.
	ActionRequest = "authz.request"
	// ActionServe: a worker's READY, or the periodic re-check of a
	// registered worker, was authorized or refused.
	ActionServe = "authz.serve"
	// ActionReply: a worker's REPLY was relayed or refused.
	ActionReply = "authz.reply"
	// ActionPublish: an event publication was authorized or refused.
	ActionPublish = "authz.publish"
	// ActionSubscribe: a subscription was authorized or refused, or ended
	// because a delivery was no longer allowed.
	ActionSubscribe = "authz.subscribe"
	// ActionDrop: a message was dropped without authorization: empty
	// User-Id, malformed frames, protocol violations, a slow subscriber.
	ActionDrop = "broker.drop"
)

// Event outcomes and severities.
const (
	// OutcomeSuccess: the action was allowed and performed.
	OutcomeSuccess = "success"
	// OutcomeFailure: the action was refused or dropped.
	OutcomeFailure = "failure"
	// SeverityCritical marks events a SIEM should alert on: a message
	// without User-Id reached the broker, which means a socket accepted a
	// connection without CURVE and ZAP.
	SeverityCritical = "critical"
	// SeverityWarning marks protocol abuse by an authenticated peer:
	// forged or misrouted replies, malformed frames.
	SeverityWarning = "warning"
)

// Event is one audit event. It never carries message payloads or keys in
// full; Key is the key's fingerprint.
type Event struct {
	// Action is one of the Action constants.
	Action string
	// Outcome is OutcomeSuccess or OutcomeFailure.
	Outcome string
	// Reason is the refusal reason code (mdp.Reason*) or a drop reason;
	// for a success, the rule that granted it is in RuleID.
	Reason string
	// Severity is "", SeverityWarning or SeverityCritical.
	Severity string
	// Principal is the peer's User-Id (empty for a critical drop).
	Principal string
	// Key is the fingerprint of the peer's CURVE public key
	// (certs.PublicKey.Fingerprint), empty if unknown.
	Key string
	// Source is the peer's IP address.
	Source string
	// Service is the Majordomo service, if any.
	Service string
	// Command is the request's command (first body frame), if any.
	Command string
	// Topic is the event topic or subscription pattern, if any.
	Topic string
	// Roles are the peer's roles as the decision reported them.
	Roles []string
	// RuleID is the policy rule that decided, e.g. "role:proxy:serve#1".
	RuleID string
	// Ruleset is the policy revision that decided.
	Ruleset string
	// PolicyHash is the content hash of the policy that decided
	// (policy.Policy.ContentHash).
	PolicyHash string
}
