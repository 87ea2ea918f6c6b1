package audit

import (
	"net/netip"
	"time"
)

// Record is one audit record. Callers fill the event fields; the log sets
// the chain fields (Seq, PrevHash, Hash), Checkpoint and Truncated. There is
// deliberately no free-form field: a record has no place for a secret.
// The JSON name of each field is in its comment; docs/audit.md is the
// reference.
type Record struct {
	// Time is "@timestamp", the time of the decision (UTC, microseconds).
	// Append sets it to the current time when it is zero.
	Time time.Time
	// ID is "event.id", a UUIDv7 unique to the record. Append generates it
	// when it is empty; a caller-supplied ID must be a lowercase UUID.
	ID string
	// Action is "event.action", e.g. ActionConnect. Required; lowercase
	// dotted words. Actions starting with "audit." are the log's own.
	Action string
	// Outcome is "event.outcome": success, failure or unknown. Required.
	Outcome Outcome
	// Reason is "event.reason": why, as a short code or sentence.
	Reason string
	// Severity is "event.severity", a syslog severity (1 alert … 7
	// debug); zero leaves it out (the outcome decides, see docs/audit.md).
	Severity Severity
	// User is "user.name", the principal.
	User string
	// Roles is "user.roles", the principal's roles at decision time.
	Roles []string
	// Groups is "zapgate.groups", the directory groups the decision used.
	Groups []string
	// Key is "zapgate.key", the fingerprint of the peer's CURVE key (never
	// the key itself).
	Key string
	// SourceIP is "source.ip", the peer's address.
	SourceIP netip.Addr
	// Service is "zapgate.service", the Majordomo service.
	Service string
	// Command is "zapgate.command", the command (first body frame).
	Command string
	// Topic is "zapgate.topic", the publish/subscribe topic.
	Topic string
	// Stale is "zapgate.stale": the directory answer came from the cache
	// within its grace period because the directory was unreachable.
	Stale bool
	// RuleID is "rule.id", the policy rule that decided.
	RuleID string
	// Ruleset is "rule.ruleset", the policy revision.
	Ruleset string
	// PolicyHash is "zapgate.policy_hash", the content hash of the policy
	// file that decided or was loaded ("sha256:" and 16 hex digits, see
	// policy.Policy.ContentHash), beside its revision.
	PolicyHash string
	// Truncated is "zapgate.truncated": the log shortened a value or a list
	// that exceeded its limit (see Limits).
	Truncated bool
	// Checkpoint is set on "audit.checkpoint" records only.
	Checkpoint *Checkpoint
	// Seq is "audit.seq", the record's position in the chain, from 1.
	Seq uint64
	// PrevHash is "audit.prev_hash", the Hash of record Seq-1 (64 zeros
	// for record 1).
	PrevHash string
	// Hash is "audit.hash", the lowercase hex SHA-256 of the record's
	// canonical encoding without "audit.hash".
	Hash string
}

// Checkpoint is the signed part of an "audit.checkpoint" record: it
// attests that the chain up to Seq ends with Hash, in File.
type Checkpoint struct {
	// Seq is "audit.checkpoint.seq", the last record covered (the
	// checkpoint record's own Seq minus one).
	Seq uint64
	// Hash is "audit.checkpoint.hash", the Hash of record Seq.
	Hash string
	// File is "audit.checkpoint.file", the base name of the file the
	// checkpoint record is written to.
	File string
	// KeyID is "audit.checkpoint.key_id", see KeyID.
	KeyID string
	// Sig is "audit.checkpoint.sig", the standard base64 ed25519 signature
	// over CheckpointMessage.
	Sig string
}

// Outcome is the value of "event.outcome", as in ECS.
type Outcome string

// Outcomes.
const (
	// OutcomeSuccess: granted, or the action succeeded.
	OutcomeSuccess Outcome = "success"
	// OutcomeFailure: refused, or the action failed.
	OutcomeFailure Outcome = "failure"
	// OutcomeUnknown: the outcome is not known.
	OutcomeUnknown Outcome = "unknown"
)

// valid reports whether o is one of the three outcomes.
func (o Outcome) valid() bool {
	return o == OutcomeSuccess || o == OutcomeFailure || o == OutcomeUnknown
}

// Severity is a syslog severity (RFC 5424) for "event.severity"; zero means
// unset. Emergency (0) is not used: zapgate never declares the system
// unusable.
type Severity uint8

// Severities.
const (
	// SeverityAlert: action must be taken immediately.
	SeverityAlert Severity = 1
	// SeverityCritical: the log's own alarms (recovery, outage).
	SeverityCritical Severity = 2
	// SeverityError is an error condition.
	SeverityError Severity = 3
	// SeverityWarning is a warning condition.
	SeverityWarning Severity = 4
	// SeverityNotice is normal but significant.
	SeverityNotice Severity = 5
	// SeverityInfo is informational.
	SeverityInfo Severity = 6
	// SeverityDebug is debug-level.
	SeverityDebug Severity = 7
)

// Event actions written by zapgate's components.
const (
	// ActionConnect: a ZAP handshake decision.
	ActionConnect = "authn.connect"
	// ActionRequest: a client request relayed or refused.
	ActionRequest = "authz.request"
	// ActionServe: a worker's registration for a service.
	ActionServe = "authz.serve"
	// ActionSubscribe: a subscription to a topic.
	ActionSubscribe = "authz.subscribe"
	// ActionPublish: a publication on a topic.
	ActionPublish = "authz.publish"
	// ActionPolicyReload: a policy file was loaded or refused.
	ActionPolicyReload = "policy.reload"
	// ActionKeysRevoke: a key binding was revoked.
	ActionKeysRevoke = "keys.revoke"
	// ActionKeysAdd: a key became bound in the key registry.
	ActionKeysAdd = "keys.add"
	// ActionKeysChange: a key binding changed (principal, expiry, file),
	// or a revocation was undone.
	ActionKeysChange = "keys.change"
	// ActionKeysRemove: a key binding's file was removed without a
	// revocation.
	ActionKeysRemove = "keys.remove"
	// ActionKeysError: a registry file or the registry directory was
	// refused or went missing (failure), or that ended (success).
	ActionKeysError = "keys.error"
)

// Event actions the log writes itself; Append refuses every "audit." action
// from callers.
const (
	// ActionCheckpoint: a signed checkpoint.
	ActionCheckpoint = "audit.checkpoint"
	// ActionRecovered: Open found and set aside a torn tail.
	ActionRecovered = "audit.recovered"
	// ActionOutage: the log could not be written for a while.
	ActionOutage = "audit.outage"
)

// Receipt is what Append returns once a record is durable.
type Receipt struct {
	// Seq is the record's "audit.seq".
	Seq uint64
	// ID is the record's "event.id".
	ID string
	// Hash is the record's "audit.hash".
	Hash string
}
