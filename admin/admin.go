// Package admin serves zapgate's admin HTTP endpoints: /healthz (the
// process is alive), /readyz (every component check passes: ZAP server
// answering, policy loaded, audit writable, …) with a JSON body naming each
// check, and /metrics for Prometheus. It binds 127.0.0.1 by default.
// Other components may mount their own endpoints (enrollment, under
// /v1/enroll); with a certificate set by SetTLS the listener serves HTTPS
// only.
package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports a component's health: nil when healthy. A check must be
// quick and must not block on the network.
type Check func() error

// Server is the admin HTTP server.
type Server struct {
	mu       sync.Mutex
	checks   map[string]Check
	registry *prometheus.Registry
	log      *slog.Logger
	srv      *http.Server
	ln       net.Listener
	mounts   map[string]http.Handler
	tls      *tls.Config

	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate] // served; swapped by ReloadTLS
}

// New returns a Server that exposes the metrics of reg.
func New(reg *prometheus.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{checks: map[string]Check{}, registry: reg, log: log.With("component", "admin")}
}

// AddCheck registers a named readiness check.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Mount serves h for the requests that match pattern (an http.ServeMux
// pattern such as "/v1/enroll/"), beside the built-in endpoints. Call it
// before Start.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mounts == nil {
		s.mounts = map[string]http.Handler{}
	}
	s.mounts[pattern] = h
}

// SetTLS makes Start serve HTTPS (TLS 1.2 or later) with the PEM
// certificate chain and key in certFile and keyFile. It fails, naming the
// files, when they cannot be loaded. Call it before Start.
func (s *Server) SetTLS(certFile, keyFile string) error {
	s.certFile, s.keyFile = certFile, keyFile
	if err := s.ReloadTLS(); err != nil {
		return err
	}
	s.tls = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	return nil
}

// ReloadTLS reads the certificate and key files given to SetTLS again and
// serves them to new connections, so a renewed certificate needs no
// restart (zapgate serve calls it on SIGHUP). When the files cannot be
// loaded the error names them and the previous certificate keeps serving.
// Without SetTLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.certFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("admin: TLS certificate %s and key %s: %w", s.certFile, s.keyFile, err)
	}
	s.cert.Store(&cert)
	return nil
}

// Handler returns the HTTP handler with every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.mu.Lock()
	for pattern, h := range s.mounts {
		mux.Handle(pattern, h)
	}
	s.mu.Unlock()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

// CheckResult is one check's entry in the /readyz body.
type CheckResult struct {
	// Name is the check's name.
	Name string `json:"name"`
	// OK is true when the check passed.
	OK bool `json:"ok"`
	// Error is the failure, when not OK.
	Error string `json:"error,omitempty"`
}

// Ready runs every check and reports whether all passed.
func (s *Server) Ready() (bool, []CheckResult) {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	s.mu.Unlock()
	sort.Strings(names)
	ok := true
	out := make([]CheckResult, 0, len(names))
	for _, n := range names {
		r := CheckResult{Name: n, OK: true}
		if err := checks[n](); err != nil {
			r.OK, r.Error, ok = false, err.Error(), false
		}
		out = append(out, r)
	}
	return ok, out
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	ok, results := s.Ready()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(struct {
		Ready  bool          `json:"ready"`
		Checks []CheckResult `json:"checks"`
	}{ok, results})
}

// Start listens on addr (host:port) and serves until Shutdown. It returns
// the bound address (useful with port 0).
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", "error", err)
		}
	}()
	s.log.Info("admin listening", "address", ln.Addr().String(), "tls", s.tls != nil)
	return ln.Addr().String(), nil
}

// Shutdown stops the server, waiting for requests in flight up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}
