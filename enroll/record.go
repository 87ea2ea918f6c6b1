package enroll

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/policy"
)

// Audit actions of enrollment.
const (
	// ActionEnroll is "event.action" of POST /v1/enroll.
	ActionEnroll = "keys.enroll"
	// ActionApprove is "event.action" of POST /v1/enroll/approve.
	ActionApprove = "keys.approve"
)

// attempt gathers what one request established, for its audit record.
type attempt struct {
	action      string
	source      netip.Addr
	principal   string // the principal the key is for
	fingerprint string
	who         *person
	groups      []string
	decision    *policy.Decision
	approvers   []string
}

// auditWait bounds how long a request waits for its audit record to be
// durable.
const auditWait = 10 * time.Second

// auditRecord is the audit record of an attempt. user.name is the person
// (the actor whose token was verified); the principal the key is for, the
// approvers and the person's provider identity are in event.reason:
//
//	CODE principal="PROXY01$" approvers="alice@x, bob@x" iss="https://idp" sub="00u1" detail="..."
func auditRecord(at *attempt, outcome audit.Outcome, code, detail string) audit.Record {
	var b strings.Builder
	b.WriteString(code)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	field("principal", at.principal)
	field("approvers", strings.Join(at.approvers, ", "))
	rec := audit.Record{Action: at.action, Outcome: outcome, Key: at.fingerprint, SourceIP: at.source, Groups: at.groups}
	if p := at.who; p != nil {
		rec.User = p.name
		field("iss", p.issuer)
		field("sub", p.subject)
	}
	field("detail", detail)
	rec.Reason = b.String()
	if d := at.decision; d != nil {
		rec.Roles, rec.RuleID, rec.Ruleset, rec.PolicyHash = d.Roles, d.Rule.ID, d.Revision, d.PolicyHash
	}
	return rec
}

// record writes the audit record of an attempt and waits until it is
// durable.
func (s *Service) record(ctx context.Context, at *attempt, outcome audit.Outcome, code, detail string) error {
	rec := auditRecord(at, outcome, code, detail)
	// A client that hangs up must not turn a record that is being made
	// durable into a refusal: the wait keeps the request's values but not
	// its cancellation, under a deadline of its own.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWait)
	defer cancel()
	_, err := s.opts.Audit.Append(actx, rec)
	if audit.MayProceed(err) {
		return nil
	}
	return err
}
