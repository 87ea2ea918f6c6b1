package authn

import (
	"context"
	"net/netip"

	"github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/broker/audit"
)

// AuditRecorder adapts an audit log to broker.Recorder: each broker event
// becomes one durable audit record. In fail-open mode a record that could
// not be written does not refuse the action.
type AuditRecorder struct {
	// Log is the audit log (audit.Log implements it).
	Log Recorder
}

var _ broker.Recorder = AuditRecorder{}

// Record implements broker.Recorder.
func (r AuditRecorder) Record(ctx context.Context, ev broker.Event) error {
	src, _ := netip.ParseAddr(ev.Source)
	rec := audit.Record{
		Action:     ev.Action,
		Outcome:    audit.OutcomeFailure,
		Reason:     ev.Reason,
		User:       ev.Principal,
		Roles:      ev.Roles,
		Key:        ev.Key,
		SourceIP:   src,
		Service:    ev.Service,
		Command:    ev.Command,
		Topic:      ev.Topic,
		RuleID:     ev.RuleID,
		Ruleset:    ev.Ruleset,
		PolicyHash: ev.PolicyHash,
	}
	if ev.Outcome == broker.OutcomeSuccess {
		rec.Outcome = audit.OutcomeSuccess
	}
	switch ev.Severity {
	case broker.SeverityCritical:
		rec.Severity = audit.SeverityCritical
	case broker.SeverityWarning:
		rec.Severity = audit.SeverityWarning
	}
	_, err := r.Log.Append(ctx, rec)
	if audit.MayProceed(err) {
		return nil
	}
	return err
}
