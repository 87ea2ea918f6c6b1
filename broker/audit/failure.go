package audit

import (
	"fmt"
	"time"
)

// outage tracks a period during which the log cannot be written.
type outage struct {
	active   bool
	since    time.Time
	lastTry  time.Time
	lastLog  time.Time
	lastErr  error
	attempts uint64
	refused  uint64 // records refused to callers (fail closed)
	late     uint64 // records kept to be written later (fail open)
	dropped  uint64 // records lost beyond MaxPending (fail open)
}

// logRepeat is how often a continuing outage is logged again.
const logRepeat = 10 * time.Second

// fail records a failed write. b's records (if any) fail with the error;
// in fail-open mode they are kept, up to MaxPending, to be written first
// when the log is writable again.
func (l *Log) fail(err error, b *batch) {
	w := &l.w
	o := &w.out
	now := l.opts.Now()
	l.ctr.failures.Add(1)
	if !o.active {
		*o = outage{active: true, since: now, lastLog: now}
		if l.opts.FailOpen {
			l.log.Error("AUDIT LOG CANNOT BE WRITTEN: continuing without durable records (fail_open)", "dir", l.opts.Dir, "err", err)
		} else {
			l.log.Error("AUDIT LOG CANNOT BE WRITTEN: refusing every grant until it can", "dir", l.opts.Dir, "err", err)
		}
	} else if now.Sub(o.lastLog) >= logRepeat {
		o.lastLog = now
		l.log.Error("audit log still cannot be written", "dir", l.opts.Dir, "since", o.since, "attempts", o.attempts+1,
			"refused", o.refused, "err", err)
	}
	o.attempts++
	o.lastTry, o.lastErr = now, err
	l.setHealth(false, err)
	if b == nil || len(b.bodies) == 0 {
		return
	}
	n := uint64(len(b.bodies))
	b.err = l.appendError(err)
	l.ctr.refused.Add(n)
	if !l.opts.FailOpen {
		o.refused += n
		return
	}
	keep := min(len(b.bodies), max(0, l.opts.MaxPending-len(w.prefix)))
	w.prefix = append(w.prefix, b.bodies[:keep]...)
	o.late += uint64(keep)
	o.dropped += n - uint64(keep)
	l.ctr.dropped.Add(n - uint64(keep))
}

// outageRecord reports the outage that is ending; it is the first record
// written once the log works again.
func (l *Log) outageRecord(now time.Time) Record {
	o := &l.w.out
	reason := fmt.Sprintf("the audit log could not be written from %s to %s (%d attempts; last error: %v); ",
		o.since.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), o.attempts, o.lastErr)
	if l.opts.FailOpen {
		reason += fmt.Sprintf("fail_open: %d records granted meanwhile follow, %d were lost", o.late, o.dropped)
	} else {
		reason += fmt.Sprintf("%d records were refused and their actions denied", o.refused)
	}
	id, err := NewEventID(now)
	if err != nil {
		id = "00000000-0000-7000-8000-000000000000"
	}
	t := false
	return Record{Time: canonicalTime(now), ID: id, Action: ActionOutage, Outcome: OutcomeFailure,
		Severity: SeverityCritical, Reason: clip(reason, MaxReasonBytes, &t), Truncated: t}
}

// endOutage is called after the first successful write following failures.
func (l *Log) endOutage() {
	o := &l.w.out
	l.log.Warn("audit log writable again", "dir", l.opts.Dir, "down_for", l.opts.Now().Sub(o.since).Round(time.Millisecond),
		"attempts", o.attempts, "refused", o.refused, "written_late", o.late, "lost", o.dropped)
	*o = outage{}
	l.setHealth(true, nil)
}

// closeFailure is Close's error when the log is failing at the end.
func (l *Log) closeFailure() error {
	o := &l.w.out
	lost := o.refused
	if l.opts.FailOpen {
		lost = uint64(len(l.w.prefix)) + o.dropped
	}
	l.log.Error("audit log closed while failing", "dir", l.opts.Dir, "since", o.since, "records_not_written", lost, "err", o.lastErr)
	return fmt.Errorf("audit: close: the log has been failing since %s (%d records not written): %w",
		o.since.UTC().Format(time.RFC3339), lost, o.lastErr)
}
