package zap

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pebbe/zmq4"
)

func denyAll() AuthenticatorFunc {
	return func(context.Context, *Request) (Result, error) { return Result{Status: StatusDenied}, nil }
}

func TestStartFailsWhenEndpointBound(t *testing.T) {
	zctx := newContext(t)
	squatter := newSocket(t, zctx, zmq4.ROUTER)
	must(t, squatter.Bind(Endpoint))
	before := runtime.NumGoroutine()

	s, err := NewServer(zctx, denyAll(), Config{Logger: testLogger(t, nil)})
	must(t, err)
	err = s.Start()
	if err == nil || !strings.Contains(err.Error(), Endpoint) {
		t.Fatalf("Start with the endpoint taken: %v, want a bind error naming %s", err, Endpoint)
	}
	if !errors.Is(err, zmq4.EADDRINUSE) {
		t.Errorf("error %v does not wrap EADDRINUSE", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after a failed Start")
	}
	within(t, termTimeout, "close after failed start", func() { must(t, s.Close()) })
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	eventually(t, 2*time.Second, "no goroutine left behind", func() bool { return runtime.NumGoroutine() <= before })
	// The context's cleanup (zmq_ctx_term under a timeout guard) proves no
	// socket was left open.
}

func TestCloseIsIdempotent(t *testing.T) {
	zctx := newContext(t)
	s, err := NewServer(zctx, denyAll(), Config{Logger: testLogger(t, nil)})
	must(t, err)
	must(t, s.Close()) // before Start
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}

	s2, err := NewServer(zctx, denyAll(), Config{Logger: testLogger(t, nil)})
	must(t, err)
	must(t, s2.Start())
	if err := s2.Start(); err == nil {
		t.Fatal("Start twice succeeded")
	}
	within(t, termTimeout, "close", func() { must(t, s2.Close()) })
	within(t, termTimeout, "second close", func() { must(t, s2.Close()) })
	<-s2.Done()
	if s2.Err() != nil {
		t.Fatalf("Err after clean Close: %v", s2.Err())
	}
	// The endpoint is free again: a new server can take it.
	s3 := startServer(t, zctx, denyAll(), Config{})
	_ = s3
}

// TestCloseAnswersPending checks that Close answers a request that is
// inside the Authenticator with 300 instead of leaving libzmq waiting.
func TestCloseAnswersPending(t *testing.T) {
	zctx := newContext(t)
	entered := make(chan struct{})
	s, err := NewServer(zctx, AuthenticatorFunc(func(ctx context.Context, _ *Request) (Result, error) {
		close(entered)
		<-ctx.Done()
		return Result{}, ctx.Err()
	}), Config{Timeout: time.Minute, Logger: testLogger(t, nil)})
	must(t, err)
	must(t, s.Start())
	d := zapDealer(t, zctx)
	_, err = d.SendMessage("", curveRequest(1))
	must(t, err)
	<-entered
	within(t, termTimeout, "close with a pending request", func() { must(t, s.Close()) })
	msg, err := d.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("no reply to the pending request: %v", err)
	}
	rep, err := ParseReply(msg)
	if err != nil || rep.Status != StatusTempFail || rep.StatusText != "shutting down" {
		t.Fatalf("reply %+v (%v), want 300 shutting down", rep, err)
	}
}

// TestCloseWithStuckAuthenticator checks that an Authenticator ignoring its
// context bounds Close by Timeout and keeps no socket open.
func TestCloseWithStuckAuthenticator(t *testing.T) {
	zctx := newContext(t)
	entered, unblock := make(chan struct{}), make(chan struct{})
	defer close(unblock)
	s, err := NewServer(zctx, AuthenticatorFunc(func(context.Context, *Request) (Result, error) {
		close(entered)
		<-unblock
		return Result{Status: StatusOK, UserID: "u"}, nil
	}), Config{Timeout: 300 * time.Millisecond, Logger: testLogger(t, nil)})
	must(t, err)
	must(t, s.Start())
	d := zapDealer(t, zctx)
	_, err = d.SendMessage("", curveRequest(1))
	must(t, err)
	<-entered
	start := time.Now()
	var cerr error
	within(t, termTimeout, "close with a stuck authenticator", func() { cerr = s.Close() })
	if cerr == nil || !strings.Contains(cerr.Error(), "Authenticator") {
		t.Errorf("Close: %v, want an error about the stuck Authenticator", cerr)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Close took %s", elapsed)
	}
}

// TestContextTermStopsServer terminates the context under a running server:
// the server must close its sockets so that zmq_ctx_term returns.
func TestContextTermStopsServer(t *testing.T) {
	zctx, err := zmq4.NewContext()
	must(t, err)
	s, err := NewServer(zctx, denyAll(), Config{Logger: testLogger(t, nil)})
	must(t, err)
	must(t, s.Start())
	within(t, termTimeout, "context term under a running server", func() { _ = zctx.Term() })
	select {
	case <-s.Done():
	case <-time.After(termTimeout):
		t.Fatal("Done not closed after context term")
	}
	if !errors.Is(s.Err(), zmq4.ETERM) {
		t.Errorf("Err = %v, want ETERM", s.Err())
	}
	within(t, termTimeout, "close after term", func() { _ = s.Close() })
}

func TestNewServerConfig(t *testing.T) {
	zctx := newContext(t)
	bad := []Config{
		{Workers: -1},
		{QueueSize: -1},
		{Timeout: -time.Second},
		{Properties: []string{"X Roles"}},
		{Properties: []string{""}},
		{Properties: []string{"User-Id"}},
		{Properties: []string{"routing-id"}},
		{Properties: []string{"X-Roles", "x-roles"}},
	}
	for _, cfg := range bad {
		if _, err := NewServer(zctx, denyAll(), cfg); err == nil {
			t.Errorf("NewServer(%+v) succeeded", cfg)
		}
	}
	if _, err := NewServer(nil, denyAll(), Config{}); err == nil {
		t.Error("nil context accepted")
	}
	if _, err := NewServer(zctx, nil, Config{}); err == nil {
		t.Error("nil authenticator accepted")
	}
	cfg := Config{Properties: []string{"X-Roles"}}
	s, err := NewServer(zctx, denyAll(), cfg)
	must(t, err)
	if s.cfg.Workers < MinDefaultWorkers || s.cfg.QueueSize != DefaultQueueSize || s.cfg.Timeout != DefaultTimeout || s.cfg.Logger == nil {
		t.Errorf("defaults not applied: %+v", s.cfg)
	}
	if cfg.Workers != 0 || cfg.Logger != nil {
		t.Errorf("caller's config modified: %+v", cfg)
	}
	s.cfg.Properties[0] = "changed"
	if cfg.Properties[0] != "X-Roles" {
		t.Error("server shares the caller's Properties slice")
	}
}

// TestBlockingReceiveFallback reruns core scenarios with the loop blocking
// in libzmq (ZMQ_RCVTIMEO) instead of waiting in Go's netpoller.
func TestBlockingReceiveFallback(t *testing.T) {
	useNetpoller = false
	defer func() { useNetpoller = true }()
	t.Run("known key", TestCurveKnownKeyAccepted)
	t.Run("unknown key", TestCurveUnknownKeyRefused)
	t.Run("out of order", TestCurveOutOfOrder)
	t.Run("timeout", TestCurveTimeout)
	t.Run("malformed", TestServerMalformedRequests)
	t.Run("close answers pending", TestCloseAnswersPending)
	t.Run("context term", TestContextTermStopsServer)
}
