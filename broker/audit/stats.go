package audit

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a Log's counters since Open, for metrics.
type Stats struct {
	// Appended counts callers' records made durable.
	Appended uint64
	// Written counts every record written, the log's own included.
	Written uint64
	// Batches counts group commits (one write each).
	Batches uint64
	// Fsyncs counts fdatasync calls that succeeded.
	Fsyncs uint64
	// Bytes counts bytes written.
	Bytes uint64
	// Failures counts failed write attempts (write, sync, file creation).
	Failures uint64
	// Refused counts Append calls that got ErrUnavailable because their
	// batch could not be written.
	Refused uint64
	// Busy counts Append calls refused because MaxPending records waited.
	Busy uint64
	// Dropped counts fail-open records lost beyond MaxPending.
	Dropped uint64
	// Checkpoints counts checkpoints written.
	Checkpoints uint64
	// HeadErrors counts failures to update the CHECKPOINT file.
	HeadErrors uint64
	// Rotations counts files closed by rotation.
	Rotations uint64
	// Recoveries counts torn tails set aside at Open.
	Recoveries uint64
}

type counters struct {
	appended, written, batches, fsyncs, bytes atomic.Uint64
	failures, refused, busy, dropped          atomic.Uint64
	checkpoints, headErrors, rotations        atomic.Uint64
	recoveries                                atomic.Uint64
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	c := &l.ctr
	return Stats{
		Appended: c.appended.Load(), Written: c.written.Load(), Batches: c.batches.Load(),
		Fsyncs: c.fsyncs.Load(), Bytes: c.bytes.Load(), Failures: c.failures.Load(),
		Refused: c.refused.Load(), Busy: c.busy.Load(), Dropped: c.dropped.Load(),
		Checkpoints: c.checkpoints.Load(), HeadErrors: c.headErrors.Load(),
		Rotations: c.rotations.Load(), Recoveries: c.recoveries.Load(),
	}
}

// Health is the log's status for health checks.
type Health struct {
	// OK is true while records are being written.
	OK bool
	// Status is "ok", "failing" or "closed".
	Status string
	// Since is when the status last changed.
	Since time.Time
	// Error is the last write error while failing.
	Error string
	// FailOpen tells whether grants continue while failing.
	FailOpen bool
}

// Health returns the log's current status. A failing log (Status
// "failing") refuses grants unless FailOpen.
func (l *Log) Health() Health { return *l.health.Load() }

// setHealth records the status; Since changes only when OK changes.
func (l *Log) setHealth(ok bool, err error) {
	prev := l.health.Load()
	h := Health{OK: ok, Status: "ok", Since: l.opts.Now(), FailOpen: l.opts.FailOpen}
	if !ok {
		h.Status = "failing"
	}
	if err != nil {
		h.Error = err.Error()
	}
	if prev != nil && prev.OK == ok && prev.Status == h.Status {
		h.Since = prev.Since
	}
	l.health.Store(&h)
}

// setHealthClosed marks the log closed.
func (l *Log) setHealthClosed() {
	h := *l.health.Load()
	h.OK, h.Status, h.Since = false, "closed", l.opts.Now()
	l.health.Store(&h)
}
