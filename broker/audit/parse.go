package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrBadRecord is wrapped by every ParseRecord error: the line is not a
// well-formed, canonical record whose hash matches its content.
var ErrBadRecord = errors.New("bad record")

// wireRecord is the JSON shape ParseRecord decodes; pointers tell absent
// from empty for the required fields.
type wireRecord struct {
	Time       *string  `json:"@timestamp"`
	ID         *string  `json:"event.id"`
	Action     *string  `json:"event.action"`
	Outcome    *string  `json:"event.outcome"`
	Reason     string   `json:"event.reason"`
	Severity   uint8    `json:"event.severity"`
	User       string   `json:"user.name"`
	Roles      []string `json:"user.roles"`
	Groups     []string `json:"zapgate.groups"`
	Key        string   `json:"zapgate.key"`
	SourceIP   string   `json:"source.ip"`
	Service    string   `json:"zapgate.service"`
	Command    string   `json:"zapgate.command"`
	Topic      string   `json:"zapgate.topic"`
	Stale      bool     `json:"zapgate.stale"`
	RuleID     string   `json:"rule.id"`
	Ruleset    string   `json:"rule.ruleset"`
	PolicyHash string   `json:"zapgate.policy_hash"`
	Truncated  bool     `json:"zapgate.truncated"`
	CPSeq      *uint64  `json:"audit.checkpoint.seq"`
	CPHash     *string  `json:"audit.checkpoint.hash"`
	CPFile     *string  `json:"audit.checkpoint.file"`
	CPKeyID    *string  `json:"audit.checkpoint.key_id"`
	CPSig      *string  `json:"audit.checkpoint.sig"`
	Seq        *uint64  `json:"audit.seq"`
	PrevHash   *string  `json:"audit.prev_hash"`
	RecordHash *string  `json:"audit.hash"`
}

// ParseRecord parses one line (without its newline) strictly. It accepts
// only the canonical encoding the log writes (so what is read is exactly
// what was hashed), checks every field's shape, and checks that
// "audit.hash" is the hash of the content. It does not check the chain
// link to the previous record; Scan and Verify do. Errors wrap ErrBadRecord.
func ParseRecord(line []byte) (Record, error) {
	if len(line) > MaxLineBytes {
		return Record{}, badf("line of %d bytes exceeds %d", len(line), MaxLineBytes)
	}
	var w wireRecord
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Record{}, badf("not a JSON record: %v", err)
	}
	if dec.More() || dec.InputOffset() != int64(len(line)) {
		return Record{}, badf("data after the JSON object")
	}
	rec, err := w.record()
	if err != nil {
		return Record{}, err
	}
	canon, hash := encodeLine(&rec)
	if !bytes.Equal(canon[:len(canon)-hashTailLen], line[:max(0, len(line)-hashTailLen)]) ||
		len(canon) != len(line) {
		return Record{}, badf("not in canonical form (field order, spacing or escaping changed)")
	}
	if hash != rec.Hash {
		return Record{}, badf("hash mismatch: the record's content does not match its audit.hash")
	}
	return rec, nil
}

// hashTailLen is the length of `,"audit.hash":"<64 hex>"}`.
const hashTailLen = len(`,"audit.hash":""}`) + 64

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRecord, fmt.Sprintf(format, args...))
}

// record converts and validates the decoded fields.
func (w *wireRecord) record() (Record, error) {
	for name, p := range map[string]*string{"@timestamp": w.Time, "event.id": w.ID, "event.action": w.Action,
		"event.outcome": w.Outcome, "audit.prev_hash": w.PrevHash, "audit.hash": w.RecordHash} {
		if p == nil {
			return Record{}, badf("missing %s", name)
		}
	}
	if w.Seq == nil || *w.Seq == 0 {
		return Record{}, badf("missing or zero audit.seq")
	}
	t, err := time.Parse(timeLayout, *w.Time)
	if err != nil {
		return Record{}, badf("@timestamp %q: want %s", *w.Time, timeLayout)
	}
	rec := Record{
		Time: t, ID: *w.ID, Action: *w.Action, Outcome: Outcome(*w.Outcome), Reason: w.Reason,
		Severity: Severity(w.Severity), User: w.User, Roles: w.Roles, Groups: w.Groups, Key: w.Key,
		Service: w.Service, Command: w.Command, Topic: w.Topic, Stale: w.Stale, RuleID: w.RuleID,
		Ruleset: w.Ruleset, PolicyHash: w.PolicyHash, Truncated: w.Truncated, Seq: *w.Seq, PrevHash: *w.PrevHash, Hash: *w.RecordHash,
	}
	if err := checkAction(rec.Action); err != nil {
		return Record{}, badf("%v", err)
	}
	switch {
	case !rec.Outcome.valid():
		return Record{}, badf("event.outcome %q", rec.Outcome)
	case !validEventID(rec.ID):
		return Record{}, badf("event.id %q is not a lowercase UUID", rec.ID)
	case rec.Severity > SeverityDebug:
		return Record{}, badf("event.severity %d", rec.Severity)
	case !validHash(rec.PrevHash) || !validHash(rec.Hash):
		return Record{}, badf("audit.prev_hash and audit.hash must be 64 lowercase hex digits")
	}
	if w.SourceIP != "" {
		if rec.SourceIP, err = netip.ParseAddr(w.SourceIP); err != nil {
			return Record{}, badf("source.ip %q", w.SourceIP)
		}
	}
	if err := w.checkpoint(&rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// checkpoint fills rec.Checkpoint: present on and only on checkpoint
// records, with every field.
func (w *wireRecord) checkpoint(rec *Record) error {
	n := 0
	for _, p := range []*string{w.CPHash, w.CPFile, w.CPKeyID, w.CPSig} {
		if p != nil {
			n++
		}
	}
	if w.CPSeq != nil {
		n++
	}
	isCP := rec.Action == ActionCheckpoint
	switch {
	case n == 0 && !isCP:
		return nil
	case n != 5 || !isCP:
		return badf("audit.checkpoint.* fields belong, all five, to %s records only", ActionCheckpoint)
	case !validHash(*w.CPHash):
		return badf("audit.checkpoint.hash must be 64 lowercase hex digits")
	}
	rec.Checkpoint = &Checkpoint{Seq: *w.CPSeq, Hash: *w.CPHash, File: *w.CPFile, KeyID: *w.CPKeyID, Sig: *w.CPSig}
	return nil
}

// validHash reports whether s is 64 lowercase hex digits.
func validHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
