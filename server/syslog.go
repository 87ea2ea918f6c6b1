package server

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/syslog"
	"github.com/zapgate/zapgate/config"
)

// forwarder runs the audit log's live syslog forwarding.
type forwarder struct {
	fwd    *syslog.Forwarder
	cancel context.CancelFunc
	done   chan struct{}
}

// openForwarder builds the syslog forwarder when audit.syslog.address is
// set, and returns nil otherwise.
func openForwarder(cfg *config.Config, log *audit.Log, logger *slog.Logger) (*forwarder, error) {
	s := cfg.Audit.Syslog
	if s.Address == "" {
		return nil, nil
	}
	opts := syslog.Options{Dir: cfg.Audit.Dir, Address: s.Address, CursorFile: s.CursorFile, Source: log, Logger: logger}
	if opts.CursorFile == "" {
		opts.CursorFile = filepath.Join(cfg.Audit.Dir, "syslog.cursor")
	}
	if s.Transport != "tcp" {
		tlsCfg, err := syslog.TLSConfig(s.Address, syslog.TLSFiles{CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName})
		if err != nil {
			return nil, err
		}
		opts.TLS = tlsCfg
	}
	facility, err := syslog.ParseFacility(s.Facility)
	if err != nil {
		return nil, err
	}
	opts.Header = syslog.Header{Facility: facility, Hostname: s.Hostname, AppName: s.AppName}
	fwd, err := syslog.New(opts)
	if err != nil {
		return nil, err
	}
	return &forwarder{fwd: fwd}, nil
}

// start forwards until stop.
func (f *forwarder) start(logger *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		if err := f.fwd.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("syslog forwarding stopped", "component", "audit", "error", err)
		}
	}()
}

// stop ends forwarding and waits for it; the cursor keeps the position.
func (f *forwarder) stop() {
	if f != nil && f.cancel != nil {
		f.cancel()
		<-f.done
	}
}

// metrics exports the forwarder's counters.
func (f *forwarder) metrics(reg *prometheus.Registry) {
	if f == nil {
		return
	}
	st := func(get func(syslog.Stats) float64) func() float64 {
		return func() float64 { return get(f.fwd.Stats()) }
	}
	register(reg, []metric{
		{"syslog_forwarded_total", "Audit records the syslog receiver has acknowledged.", true, st(func(s syslog.Stats) float64 { return float64(s.Forwarded) })},
		{"syslog_errors_total", "Syslog forwarding errors (connection, write).", true, st(func(s syslog.Stats) float64 { return float64(s.Errors) })},
		{"syslog_connected", "1 while connected to the syslog receiver.", false, st(func(s syslog.Stats) float64 { return b2f(s.Connected) })},
		{"syslog_cursor", "Sequence number of the last record the receiver has.", false, st(func(s syslog.Stats) float64 { return float64(s.Cursor) })},
	})
}
