package okta

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"encoding/pem"

	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

// writeCert writes ts's certificate as a CA file.
func writeCert(t *testing.T, path string, ts *httptest.Server) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimit429BackOffAndRetry(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example", Status: "SUSPENDED"})
	d := mustNew(t, f.sswsConfig(t))

	f.srv.Inject429(2)
	lookup(t, d, "a@x.example")
	if n := f.srv.Count(oktatest.EndpointUser); n != 3 {
		t.Errorf("%d user requests after two 429s, want 3 (two retries)", n)
	}

	f.srv.ResetCounts()
	f.srv.Inject429(3)
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "429") {
		t.Errorf("three 429s: %v, want unavailable", err)
	}
	if n := f.srv.Count(oktatest.EndpointUser); n != 3 {
		t.Errorf("%d user requests for three 429s, want 3 (no more than two retries)", n)
	}
}

func TestRateLimitWaitIsBounded(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example", Status: "SUSPENDED"})
	cfg := f.sswsConfig(t)
	cfg.MaxRateLimitWait = time.Millisecond
	d := mustNew(t, cfg)
	f.srv.Inject429(1)
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "max_rate_limit_wait") {
		t.Errorf("429 with a wait above max_rate_limit_wait: %v", err)
	}
	if n := f.srv.Count(oktatest.EndpointUser); n != 1 {
		t.Errorf("%d user requests, want 1 (no retry past the bound)", n)
	}

	// The caller's deadline bounds the wait too.
	cfg.MaxRateLimitWait = time.Minute
	d = mustNew(t, cfg)
	f.srv.Inject429(1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Lookup(ctx, "a@x.example"); !errors.Is(err, idp.ErrUnavailable) {
		t.Errorf("429 past the deadline: %v", err)
	}
}

func TestRemainingZeroWaitsForReset(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example", Status: "SUSPENDED"})
	f.srv.SetRateLimit(2, 500*time.Millisecond)
	d := mustNew(t, f.sswsConfig(t))
	for range 5 {
		lookup(t, d, "a@x.example")
	}
	// A client that ignored X-Rate-Limit-Remaining: 0 would have met a
	// 429 and retried, making more than 5 requests.
	if n := f.srv.Count(oktatest.EndpointUser); n != 5 {
		t.Errorf("%d user requests for 5 lookups with 2 per window, want 5 (no 429)", n)
	}
}

func TestRateLimitBucketsAreSeparate(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	cfg := f.sswsConfig(t)
	cfg.MaxRateLimitWait = time.Millisecond
	f.srv.SetRateLimit(1, time.Hour)
	d := mustNew(t, cfg)
	// The user endpoint's window is now exhausted; the groups endpoint
	// has its own.
	lookup(t, d, "a@x.example")
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "window") {
		t.Fatalf("second lookup in an exhausted window: %v", err)
	}
	if n := f.srv.Count(oktatest.EndpointUser); n != 1 {
		t.Errorf("%d user requests, want 1: the client must not call while the window is exhausted", n)
	}
}
