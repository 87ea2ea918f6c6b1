package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/admin"
	"github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/authn"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/internal/routingid"
	"github.com/zapgate/zapgate/internal/shutout"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// Server is a running zapgate.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	audit     *audit.Log
	budget    *budget // audit budget of unauthenticated peers
	syslog    *forwarder
	keys      *certs.Registry // nil in key-in-directory mode
	keyFinder idp.KeyFinder   // key-in-directory mode only
	dir       idp.Directory
	policy    *policy.Store
	zctx      *zmq.Context
	zap       *zap.Server
	shutOut   *shutout.List // keys the broker shut out; the ZAP handler refuses them
	broker    *broker.Broker
	admin     *admin.Server
	adminURL  string
}

// Start brings every component up in the safe order: audit log, key
// registry, directory, policy, ZAP server (self-test), and only then the
// CURVE socket; the admin endpoint last. On error everything started so
// far is stopped.
func Start(cfg *config.Config, log *slog.Logger) (s *Server, err error) {
	s = &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.stop())
			s = nil
		}
	}()
	if s.audit, err = openAudit(cfg, log); err != nil {
		return s, err
	}
	if err = s.openBudget(); err != nil {
		return s, err
	}
	if s.syslog, err = openForwarder(cfg, s.audit, log); err != nil {
		return s, err
	}
	if s.syslog != nil {
		s.syslog.start(log)
	}
	if cfg.Keys.Source != "directory" {
		if s.keys, err = openRegistry(cfg, log, s.audit); err != nil {
			return s, err
		}
	}
	open, ok := Directories[cfg.Directory.Type]
	if !ok {
		return s, fmt.Errorf("server: directory type %q is not built in", cfg.Directory.Type)
	}
	if s.dir, err = open(cfg, log); err != nil {
		return s, err
	}
	if s.policy, err = openPolicy(cfg, log, s.audit); err != nil {
		return s, err
	}
	if s.keyFinder, err = s.directoryKeys(); err != nil {
		return s, err
	}
	if err = s.startZMQ(); err != nil {
		return s, err
	}
	return s, s.startAdmin()
}

// chain is the authentication chain over the running components.
func (s *Server) chain() authn.Chain {
	var keys authn.Keys = s.keys
	if s.keys == nil {
		keys = authn.DirectoryKeys{Finder: s.keyFinder}
	}
	return authn.Chain{Keys: keys, Directory: s.dir, Policy: s.policy, Audit: s.audit, Logger: s.log,
		ShutOut: s.shutOut, Unauthenticated: s.budget.zap, RefusalLines: s.budget.lines}
}

// startZMQ starts the ZAP server, proves it answers, then binds the relay.
func (s *Server) startZMQ() error {
	secret, err := certs.LoadSecret(s.cfg.Keys.ServerSecret)
	if err != nil {
		return err
	}
	if s.zctx, err = zmq.NewContext(); err != nil {
		return fmt.Errorf("server: zmq context: %w", err)
	}
	b := s.cfg.Broker
	s.shutOut = shutout.New(shutout.Config{Offences: b.Offences, Window: b.OffenceWindow, Duration: b.ShutOut})
	// One per-process Minter: the ZAP server mints each connection's
	// routing id, the broker accepts no other (docs/security.md).
	rids, err := routingid.New()
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	chain := s.chain()
	chain.RoutingIDs = rids
	z := s.cfg.ZAP
	s.zap, err = zap.NewServer(s.zctx, authn.New(chain), zap.Config{
		Workers: z.Workers, QueueSize: z.Queue, Timeout: z.Timeout, Properties: authn.Properties(), Logger: s.log,
	})
	if err != nil {
		return err
	}
	if err := s.zap.Start(); err != nil {
		return err
	}
	u := s.cfg.Audit.Unauthenticated // the same budget for transport lines
	s.broker, err = broker.New(s.zctx, broker.Config{
		Endpoint: b.Listen, ServerSecret: *secret.Secret, ZAPDone: s.zap.Done(), RoutingIDs: rids,
		Heartbeat: b.Heartbeat, Liveness: b.Liveness, NoWorkerWait: b.NoWorkerWait, MaxQueue: b.MaxQueue,
		MaxMessageSize: b.MaxMessageSize, MaxFrames: b.MaxFrames, MaxMessageBytes: b.MaxMessageBytes,
		MaxPeerBytes: b.MaxPeerBytes, MaxQueuedBytes: b.MaxQueuedBytes, ReceiveHWM: b.ReceiveHWM,
		MaxConnectionBacklog: b.MaxConnectionBacklog, Offenders: s.shutOut,
		UnauthenticatedLogs: broker.LogBudget{PerSource: u.PerSource, Interval: u.Interval, MaxSources: u.MaxSources, MaxLines: u.MaxRecords},
	}, authn.NewAuthorizer(s.chain()), authn.AuditRecorder{Log: s.audit}, s.log)
	return err
}

// startAdmin serves health and metrics when admin.listen is set.
func (s *Server) startAdmin() error {
	if s.cfg.Admin.Listen == "" {
		return nil
	}
	reg := newRegistry(s.zap, s.keys, s.policy, s.audit)
	s.budget.metrics(reg)
	s.syslog.metrics(reg)
	directoryMetrics(reg, s.dir)
	brokerMetrics(reg, s.broker)
	s.admin = admin.New(reg, s.log)
	s.admin.AddCheck("zap", func() error {
		select {
		case <-s.zap.Done():
			return fmt.Errorf("zap server stopped: %v", s.zap.Err())
		default:
			return nil
		}
	})
	s.admin.AddCheck("audit", func() error {
		if h := s.audit.Health(); !h.OK {
			return fmt.Errorf("audit log %s since %s: %s", h.Status, h.Since.Format(time.RFC3339), h.Error)
		}
		return nil
	})
	s.admin.AddCheck("audit_reserve", s.budget.reserve.Check)
	s.admin.AddCheck("policy", func() error {
		if st := s.policy.Status(); st.LastError != "" {
			return fmt.Errorf("revision %s serves; the file on disk was refused: %s", st.Revision, st.LastError)
		}
		return nil
	})
	s.admin.AddCheck("keys", func() error {
		if s.keys == nil {
			return nil // keys live in the directory
		}
		return keysCheck(s.keys.Stats())
	})
	if err := s.adminTLSAndEnroll(); err != nil {
		return err
	}
	var err error
	s.adminURL, err = s.admin.Start(s.cfg.Admin.Listen)
	return err
}

// directoryKeys returns the directory's key lookup in key-in-directory mode.
func (s *Server) directoryKeys() (idp.KeyFinder, error) {
	if s.keys != nil {
		return nil, nil
	}
	type keyCapable interface {
		idp.KeyFinder
		SupportsKeys() bool
	}
	kf, ok := s.dir.(keyCapable)
	if !ok || !kf.SupportsKeys() {
		return nil, fmt.Errorf("server: keys.source is directory, but directory.type %s cannot find principals by key", s.cfg.Directory.Type)
	}
	return kf, nil
}

// Endpoint is the relay's bound endpoint.
func (s *Server) Endpoint() string { return s.broker.Endpoint() }

// AdminAddress is the admin listener's bound address ("" when disabled).
func (s *Server) AdminAddress() string { return s.adminURL }

// Reload re-reads the policy, key registry, directory and admin TLS
// certificate (SIGHUP).
func (s *Server) Reload() error {
	errs := []error{s.policy.Reload()}
	if s.keys != nil {
		errs = append(errs, s.keys.Reload())
	}
	if r, ok := s.dir.(interface{ Reload() error }); ok {
		errs = append(errs, r.Reload())
	}
	if s.admin != nil {
		errs = append(errs, s.admin.ReloadTLS())
	}
	return errors.Join(errs...)
}

// Run relays until ctx ends, then stops everything in the safe order.
func (s *Server) Run(ctx context.Context) error {
	err := s.broker.Run(ctx)
	return errors.Join(err, s.stop())
}

// stop closes what is open: the CURVE socket first, then the ZAP server
// (closing it while a CURVE socket listens would let every client in),
// the context, the admin endpoint, the watchers, and the audit log last
// so every record of the shutdown is written.
func (s *Server) stop() error {
	var errs []error
	if s.broker != nil {
		errs = append(errs, s.broker.Close())
	}
	if s.zap != nil {
		errs = append(errs, s.zap.Close())
	}
	if s.zctx != nil {
		errs = append(errs, s.zctx.Term())
	}
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errs = append(errs, s.admin.Shutdown(ctx))
		cancel()
	}
	if s.policy != nil {
		errs = append(errs, s.policy.Close())
	}
	if c, ok := s.dir.(idp.Closer); ok {
		errs = append(errs, c.Close())
	}
	if s.keys != nil {
		errs = append(errs, s.keys.Close())
	}
	s.budget.close() // its last summaries go into the log
	if s.audit != nil {
		errs = append(errs, s.audit.Close())
	}
	s.syslog.stop() // after the close checkpoint, which it may still forward
	return errors.Join(errs...)
}
