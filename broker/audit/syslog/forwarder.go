package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
)

// Options configures a Forwarder. Zero durations take the defaults in
// their comments.
type Options struct {
	// Dir is the audit log directory.
	Dir string
	// Address is the receiver, host:port.
	Address string
	// TLS, if set, speaks RFC 5425 (TLS); nil sends plain TCP.
	TLS *tls.Config
	// Header sets facility, hostname and app name (defaults: authpriv,
	// os.Hostname(), "zapgate", the process ID).
	Header Header
	// CursorFile stores the last record the receiver has (required).
	CursorFile string
	// Source, if set (the running audit.Log), limits forwarding to
	// durable records and wakes the forwarder on each commit.
	Source audit.Source
	// Settle is how long the connection must stay up after the receiver
	// acknowledged a record before the cursor moves past it (default 1s).
	Settle time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// after each failure, with jitter (defaults 200ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds connecting and the TLS handshake (default 10s).
	DialTimeout time.Duration
	// WriteTimeout bounds one write to the receiver (default 30s).
	WriteTimeout time.Duration
	// Logger receives problems, with component=audit and forwarder=syslog.
	Logger *slog.Logger
}

// Stats is a snapshot of a Forwarder's counters.
type Stats struct {
	// Forwarded counts records the cursor moved past (the receiver has them).
	Forwarded uint64
	// Sent counts messages written, resends included.
	Sent uint64
	// Errors counts failed connections, handshakes and sends, and chain errors.
	Errors uint64
	// Connects counts successful connections.
	Connects uint64
	// Cursor is the seq of the last record the receiver has.
	Cursor uint64
	// Connected tells whether a connection is up.
	Connected bool
}

// Forwarder sends the audit log to a syslog receiver. Run it once.
type Forwarder struct {
	opts      Options
	log       *slog.Logger
	mu        sync.Mutex
	cursor    Cursor
	forwarded atomic.Uint64
	sent      atomic.Uint64
	errors    atomic.Uint64
	connects  atomic.Uint64
	connected atomic.Bool
	failing   bool      // owned by Run
	lastLog   time.Time // owned by Run
}

// New checks opts and reads the cursor file. An unreadable cursor is
// reported and forwarding starts from the oldest record (at least once).
func New(opts Options) (*Forwarder, error) {
	if opts.Dir == "" || opts.Address == "" || opts.CursorFile == "" {
		return nil, errors.New("syslog: forwarder needs a log directory, an address and a cursor file")
	}
	if opts.Header.Facility < 0 || opts.Header.Facility > 23 {
		return nil, fmt.Errorf("syslog: facility %d out of range", opts.Header.Facility)
	}
	if opts.Header.Facility == 0 {
		opts.Header.Facility = facilities["authpriv"]
	}
	if opts.Header.Hostname == "" {
		opts.Header.Hostname, _ = os.Hostname()
	}
	if opts.Header.AppName == "" {
		opts.Header.AppName = "zapgate"
	}
	if opts.Header.ProcID == "" {
		opts.Header.ProcID = strconv.Itoa(os.Getpid())
	}
	setDefault(&opts.Settle, time.Second)
	setDefault(&opts.MinBackoff, 200*time.Millisecond)
	setDefault(&opts.MaxBackoff, 30*time.Second)
	setDefault(&opts.DialTimeout, 10*time.Second)
	setDefault(&opts.WriteTimeout, 30*time.Second)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &Forwarder{opts: opts, log: opts.Logger.With("component", "audit", "forwarder", "syslog", "receiver", opts.Address)}
	c, err := ReadCursor(opts.CursorFile)
	if err != nil {
		f.log.Error("cannot read the syslog cursor; forwarding from the oldest record", "err", err)
		c = Cursor{}
	}
	f.cursor = c
	return f, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Cursor returns the last record the receiver is known to have.
func (f *Forwarder) Cursor() Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor
}

// Stats returns the forwarder's counters.
func (f *Forwarder) Stats() Stats {
	return Stats{Forwarded: f.forwarded.Load(), Sent: f.sent.Load(), Errors: f.errors.Load(),
		Connects: f.connects.Load(), Cursor: f.Cursor().Seq, Connected: f.connected.Load()}
}

// Run forwards until ctx ends, reconnecting with bounded, jittered
// backoff. On return it has written the cursor for every record the
// receiver acknowledged. It returns nil when ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	backoff := f.opts.MinBackoff
	for ctx.Err() == nil {
		c, err := dial(ctx, f.opts.Address, f.opts.TLS, f.opts.DialTimeout)
		if err == nil {
			f.connects.Add(1)
			f.connected.Store(true)
			var progress bool
			progress, err = f.session(ctx, c)
			c.close()
			f.connected.Store(false)
			if progress {
				backoff = f.opts.MinBackoff
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		f.problem(err)
		delay := backoff + rand.N(backoff/5+1)
		backoff = min(2*backoff, f.opts.MaxBackoff)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}

// problem counts and logs a failed connection or session: the first one
// and then every 30s while it lasts.
func (f *Forwarder) problem(err error) {
	f.errors.Add(1)
	now := time.Now()
	if !f.failing || now.Sub(f.lastLog) >= 30*time.Second {
		f.log.Error("audit forwarding to syslog interrupted; retrying", "cursor", f.Cursor().Seq, "err", err)
		f.failing, f.lastLog = true, now
	}
}

// progressed notes that records reached the receiver again.
func (f *Forwarder) progressed() {
	if f.failing {
		f.log.Info("audit forwarding to syslog resumed", "cursor", f.Cursor().Seq)
		f.failing = false
	}
}
