package authn

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/zap"
)

// Unauthenticated takes the audit records of refusals of peers that were
// not identified; flood.Aggregator implements it. Refuse must not wait for
// the disk and may write rec in full, count it for a summary, or both.
type Unauthenticated interface {
	Refuse(rec audit.Record) bool
}

// LineBudget decides whether a log line about a source is written in full
// or counted for a summary; flood.LineLimiter implements it.
type LineBudget interface {
	Allow(src netip.Addr, kind string) bool
}

// unidentified reports whether a refusal with this reason is about a peer
// nobody identified: no binding for its key, or not CURVE at all. Every
// other refusal names a key binding or a principal and is written in full.
func unidentified(reason string) bool {
	return reason == ReasonUnknownKey || reason == ReasonMechanism
}

// refuseUnidentified hands the record of an unidentified peer's refusal to
// the budget of unauthenticated peers and answers at once: the ZAP worker
// never waits for the disk on behalf of a peer nobody knows, so such
// refusals do not queue behind grants (docs/security.md).
func (a *Authenticator) refuseUnidentified(rec audit.Record, status zap.Status, reason string) (zap.Result, error) {
	rec.Outcome, rec.Reason = audit.OutcomeFailure, reason
	a.c.Unauthenticated.Refuse(rec)
	if a.log.Enabled(context.Background(), slog.LevelDebug) && (a.c.RefusalLines == nil || a.c.RefusalLines.Allow(rec.SourceIP, reason)) {
		a.log.Debug("refused", "reason", reason, "key", rec.Key, "source.ip", rec.SourceIP, "status", int(status))
	}
	return zap.Result{Status: status, StatusText: reason}, nil
}
