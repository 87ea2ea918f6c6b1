package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ECSVersion is the Elastic Common Schema version of the ecs export.
const ECSVersion = "8.11.0"

// The ecs export nests the dotted names (event.action → event.action in
// an "event" object), adds the ECS categorisation fields, and moves the
// zapgate-specific fields, the chain included, under "zapgate".

type ecsDoc struct {
	Timestamp string      `json:"@timestamp"`
	ECS       ecsVersion  `json:"ecs"`
	Event     ecsEvent    `json:"event"`
	User      *ecsUser    `json:"user,omitempty"`
	Source    *ecsSource  `json:"source,omitempty"`
	Rule      *ecsRule    `json:"rule,omitempty"`
	Zapgate   ecsZapgate  `json:"zapgate"`
	Observer  ecsObserver `json:"observer"`
}

type ecsVersion struct {
	Version string `json:"version"`
}

type ecsEvent struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome"`
	Reason   string   `json:"reason,omitempty"`
	Severity int      `json:"severity,omitempty"`
	Sequence uint64   `json:"sequence"`
	Dataset  string   `json:"dataset"`
	Module   string   `json:"module"`
}

type ecsUser struct {
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

type ecsSource struct {
	IP string `json:"ip"`
}

type ecsRule struct {
	ID      string `json:"id,omitempty"`
	Ruleset string `json:"ruleset,omitempty"`
}

type ecsObserver struct {
	Product string `json:"product"`
	Vendor  string `json:"vendor"`
}

type ecsZapgate struct {
	Groups     []string `json:"groups,omitempty"`
	Key        string   `json:"key,omitempty"`
	Service    string   `json:"service,omitempty"`
	Command    string   `json:"command,omitempty"`
	Topic      string   `json:"topic,omitempty"`
	PolicyHash string   `json:"policy_hash,omitempty"`
	Stale      bool     `json:"stale,omitempty"`
	Truncated  bool     `json:"truncated,omitempty"`
	Audit      ecsAudit `json:"audit"`
}

type ecsAudit struct {
	Seq        uint64         `json:"seq"`
	PrevHash   string         `json:"prev_hash"`
	Hash       string         `json:"hash"`
	Checkpoint *ecsCheckpoint `json:"checkpoint,omitempty"`
}

type ecsCheckpoint struct {
	Seq   uint64 `json:"seq"`
	Hash  string `json:"hash"`
	File  string `json:"file"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"`
}

// ecsCategory returns ECS event.category and event.type for a record.
func ecsCategory(r *Record) (category, typ []string) {
	allowed := map[Outcome]string{OutcomeSuccess: "allowed", OutcomeFailure: "denied", OutcomeUnknown: "info"}[r.Outcome]
	switch {
	case r.Action == ActionConnect:
		return []string{"authentication"}, []string{"start"}
	case strings.HasPrefix(r.Action, "authz."):
		return []string{"network"}, []string{allowed}
	case r.Action == ActionPolicyReload:
		return []string{"configuration"}, []string{"change"}
	case r.Action == ActionKeysRevoke, r.Action == ActionKeysRemove:
		return []string{"iam"}, []string{"deletion"}
	case r.Action == ActionKeysAdd:
		return []string{"iam"}, []string{"creation"}
	case r.Action == ActionKeysChange:
		return []string{"iam"}, []string{"change"}
	case r.Action == ActionKeysError:
		return []string{"configuration"}, []string{"error"}
	}
	return nil, nil
}

// appendECS appends r as one ECS JSON document.
func appendECS(b []byte, r *Record) ([]byte, error) {
	cat, typ := ecsCategory(r)
	d := ecsDoc{
		Timestamp: r.Time.UTC().Format(timeLayout),
		ECS:       ecsVersion{ECSVersion},
		Event: ecsEvent{ID: r.ID, Kind: "event", Category: cat, Type: typ, Action: r.Action,
			Outcome: string(r.Outcome), Reason: r.Reason, Severity: int(r.Severity), Sequence: r.Seq,
			Dataset: "zapgate.audit", Module: "zapgate"},
		Zapgate: ecsZapgate{Groups: r.Groups, Key: r.Key, Service: r.Service, Command: r.Command, Topic: r.Topic,
			PolicyHash: r.PolicyHash,
			Stale:      r.Stale, Truncated: r.Truncated, Audit: ecsAudit{Seq: r.Seq, PrevHash: r.PrevHash, Hash: r.Hash}},
		Observer: ecsObserver{Product: "zapgate", Vendor: "zapgate"},
	}
	if r.User != "" || len(r.Roles) > 0 {
		d.User = &ecsUser{Name: r.User, Roles: r.Roles}
	}
	if r.SourceIP.IsValid() {
		d.Source = &ecsSource{IP: r.SourceIP.String()}
	}
	if r.RuleID != "" || r.Ruleset != "" {
		d.Rule = &ecsRule{ID: r.RuleID, Ruleset: r.Ruleset}
	}
	if cp := r.Checkpoint; cp != nil {
		d.Zapgate.Audit.Checkpoint = &ecsCheckpoint{Seq: cp.Seq, Hash: cp.Hash, File: cp.File, KeyID: cp.KeyID, Sig: cp.Sig}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&d); err != nil {
		return b, fmt.Errorf("audit: export ecs: %w", err)
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}
