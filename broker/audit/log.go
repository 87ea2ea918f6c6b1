package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Errors Append returns, wrapped with the cause.
var (
	// ErrUnavailable: the record could not be made durable (disk full,
	// permission, I/O error, overload). Deny the action it records.
	ErrUnavailable = errors.New("audit log unavailable")
	// ErrFailOpen is wrapped, together with ErrUnavailable, when
	// Options.FailOpen is set: the caller may go on (see MayProceed).
	ErrFailOpen = errors.New("continuing without a durable record (fail_open)")
	// ErrBusy: too many records are waiting for the writer.
	ErrBusy = errors.New("too many records waiting")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("audit log closed")
)

// MayProceed reports whether the action recorded by an Append that
// returned err may go ahead: the record is durable (nil), or the log is
// configured to fail open. Every other error means deny.
func MayProceed(err error) bool {
	return err == nil || errors.Is(err, ErrFailOpen)
}

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	opts   Options
	log    *slog.Logger
	signer *signer

	mu        sync.Mutex
	cur       *batch
	queued    int
	closed    bool
	committed chan struct{} // closed and replaced after each commit

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	w       writer // owned by the writer goroutine (and Open before it starts)
	lastSeq atomic.Uint64
	health  atomic.Pointer[Health]
	ctr     counters
}

// batch is the records queued while the writer was busy; they are
// written together and released together.
type batch struct {
	bodies [][]byte // canonical bodies without chain fields
	ids    []string
	seqs   []uint64 // filled when durable
	hashes []string
	err    error
	done   chan struct{}
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Open opens (or creates) the log in opts.Dir, recovers from a crash (see
// recover.go), and starts the writer. Open fails if the directory cannot
// be used or the log is damaged before its end, or has been truncated
// below its CHECKPOINT; it never discards records.
func Open(opts Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	l := &Log{
		opts: o, log: o.Logger.With("component", "audit"),
		cur: newBatch(), committed: make(chan struct{}),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if o.CheckpointKey != nil {
		l.signer = newSigner(o.CheckpointKey)
	} else {
		l.log.Warn("audit.checkpoint_key is not set: truncation of the log and removal of files cannot be detected", "dir", o.Dir)
	}
	l.setHealth(true, nil)
	if err := l.recover(); err != nil {
		return nil, err
	}
	l.lastSeq.Store(l.w.seq)
	if len(l.w.prefix) > 0 {
		l.commit(newBatch()) // the recovery record; on failure the log starts failing
	}
	go l.run()
	return l, nil
}

// Pending is a record queued by AppendAsync.
type Pending struct {
	l *Log
	b *batch
	i int
}

// AppendAsync validates and queues rec and returns at once. The record is
// not durable until Wait returns without error.
func (l *Log) AppendAsync(rec Record) (Pending, error) {
	r, err := prepare(rec, l.opts.Now())
	if err != nil {
		return Pending{}, err
	}
	body := appendBody(make([]byte, 0, 384), &r)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Pending{}, fmt.Errorf("audit: append: %w", ErrClosed)
	}
	if l.queued >= l.opts.MaxPending {
		l.mu.Unlock()
		l.ctr.busy.Add(1)
		return Pending{}, l.appendError(fmt.Errorf("%d records queued: %w", l.opts.MaxPending, ErrBusy))
	}
	b := l.cur
	i := len(b.bodies)
	b.bodies = append(b.bodies, body)
	b.ids = append(b.ids, r.ID)
	l.queued++
	l.mu.Unlock()
	if i == 0 {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return Pending{l: l, b: b, i: i}, nil
}

// Done is closed when the record has been written or has failed.
func (p Pending) Done() <-chan struct{} { return p.b.done }

// Wait waits until the record is durable and returns its receipt. If ctx
// ends first, Wait returns ctx's error; the record may still be written
// later, but the caller must treat it as not recorded (deny).
func (p Pending) Wait(ctx context.Context) (Receipt, error) {
	select {
	case <-p.b.done:
	case <-ctx.Done():
		return Receipt{ID: p.b.ids[p.i]}, p.l.appendError(fmt.Errorf("gave up waiting: %w", ctx.Err()))
	}
	if p.b.err != nil {
		return Receipt{ID: p.b.ids[p.i]}, p.b.err
	}
	return Receipt{Seq: p.b.seqs[p.i], ID: p.b.ids[p.i], Hash: p.b.hashes[p.i]}, nil
}

// Append writes rec and returns once it is durable (written and
// fdatasync'ed, together with every record queued meanwhile). On error
// the action must be denied unless MayProceed(err) (fail-open mode).
// Invalid records (bad action, outcome, event id) are refused with an
// error that does not wrap ErrUnavailable.
func (l *Log) Append(ctx context.Context, rec Record) (Receipt, error) {
	p, err := l.AppendAsync(rec)
	if err != nil {
		return Receipt{}, err
	}
	return p.Wait(ctx)
}

// LastSeq returns the sequence number of the last durable record.
func (l *Log) LastSeq() uint64 { return l.lastSeq.Load() }

// Committed returns a channel that is closed at the next commit.
func (l *Log) Committed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed
}

// Dir returns the log directory.
func (l *Log) Dir() string { return l.opts.Dir }

// Close writes every queued record, a final checkpoint, and closes the
// file. It returns the error of the final writes, if any. Appends after
// Close fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return l.w.closeErr
}

// appendError wraps a write failure for Append's callers.
func (l *Log) appendError(cause error) error {
	if l.opts.FailOpen {
		return fmt.Errorf("audit: record not durable: %w: %w: %w", ErrFailOpen, ErrUnavailable, cause)
	}
	return fmt.Errorf("audit: record not written: %w: %w", ErrUnavailable, cause)
}

// broadcast wakes everyone waiting on Committed.
func (l *Log) broadcast() {
	l.mu.Lock()
	close(l.committed)
	l.committed = make(chan struct{})
	l.mu.Unlock()
}
