package cache

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
)

func TestStaleGrace(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		advance   time.Duration
		wantStale bool // otherwise ErrUnavailable
	}{
		{"just past TTL", "PROXY01$", 5 * time.Minute, true},
		{"disabled account keeps its answer", "OLD01$", 10 * time.Minute, true},
		{"end of grace", "PROXY01$", 20*time.Minute - time.Second, true},
		{"past grace", "PROXY01$", 20 * time.Minute, false},
		{"unknown principal", "NEW01$", 6 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newFakeDir(proxy01, disabled)
			c, clk := newTestCache(t, dir, Options{RefreshAhead: -1})
			ctx := context.Background()
			for _, p := range []string{"PROXY01$", "OLD01$"} {
				if _, err := c.Lookup(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			dir.set(func(d *fakeDir) { d.fail = errDown })
			clk.Advance(tt.advance)

			id, err := c.Lookup(ctx, tt.principal)
			if !tt.wantStale {
				if !errors.Is(err, idp.ErrUnavailable) || !errors.Is(err, errDown) {
					t.Fatalf("err = %v, want one wrapping ErrUnavailable and the cause", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want a stale answer", err)
			}
			want := disabled
			if tt.principal == "PROXY01$" {
				want = proxy01
			}
			if !id.Stale || id.Enabled != want.Enabled || !slices.Equal(id.Groups, want.Groups) {
				t.Fatalf("got %+v, want the last known identity marked stale", id)
			}
			if s := c.Stats(); s.StaleServes != 1 || s.Errors != 1 {
				t.Fatalf("stats = %+v", s)
			}
		})
	}
}

func TestRecoveryAfterOutage(t *testing.T) {
	dir := newFakeDir(proxy01)
	c, clk := newTestCache(t, dir, Options{RefreshAhead: -1, OutageBackoff: -1})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	dir.set(func(d *fakeDir) { d.fail = errDown })
	clk.Advance(6 * time.Minute)
	if id, err := c.Lookup(ctx, "PROXY01$"); err != nil || !id.Stale {
		t.Fatalf("during outage: %+v, %v", id, err)
	}
	if _, err := c.Lookup(ctx, "REPO01$"); !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("unknown during outage: %v", err)
	}

	dir.set(func(d *fakeDir) { d.fail = nil; d.ids["REPO01$"] = repo01 })
	if id, err := c.Lookup(ctx, "PROXY01$"); err != nil || id.Stale {
		t.Fatalf("after recovery: %+v, %v; want a fresh answer", id, err)
	}
	if id, err := c.Lookup(ctx, "REPO01$"); err != nil || id.Stale {
		t.Fatalf("unknown after recovery: %+v, %v", id, err)
	}
	// The fresh answer restarts the TTL: no more queries for a while.
	clk.Advance(4 * time.Minute)
	before := dir.count("PROXY01$")
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil || dir.count("PROXY01$") != before {
		t.Fatalf("after recovery the answer was not cached: %v", err)
	}
}

func TestNotFoundIsNotAnOutage(t *testing.T) {
	dir := newFakeDir(proxy01)
	c, clk := newTestCache(t, dir, Options{RefreshAhead: -1})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	dir.set(func(d *fakeDir) { delete(d.ids, "PROXY01$") })
	clk.Advance(6 * time.Minute)
	_, err := c.Lookup(ctx, "PROXY01$")
	if !errors.Is(err, idp.ErrNotFound) || errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrNotFound and no stale answer", err)
	}
	if s := c.Stats(); s.Errors != 0 || s.StaleServes != 0 {
		t.Fatalf("stats = %+v; a not-found answer is not an error", s)
	}
	// The negative answer replaced the positive one: no stale serve later.
	dir.set(func(d *fakeDir) { d.fail = errDown })
	clk.Advance(time.Minute)
	if _, err := c.Lookup(ctx, "PROXY01$"); !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("removed principal during outage: err = %v, want ErrUnavailable", err)
	}
}

func TestCancelledCallerDoesNotCancelQuery(t *testing.T) {
	dir := newFakeDir(proxy01)
	gate := make(chan struct{})
	dir.set(func(d *fakeDir) { d.gates["PROXY01$"] = gate })
	c, _ := newTestCache(t, dir, Options{})

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := c.Lookup(ctx, "PROXY01$")
		cancelled <- err
	}()
	patient := make(chan error, 1)
	go func() {
		_, err := c.Lookup(context.Background(), "PROXY01$")
		patient <- err
	}()
	waitFor(t, "both callers to join", func() bool { return c.Stats().Misses == 2 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) || !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("cancelled caller: err = %v", err)
	}
	close(gate)
	if err := <-patient; err != nil {
		t.Fatalf("other caller: %v", err)
	}
	dir.mu.Lock()
	defer dir.mu.Unlock()
	if dir.calls["PROXY01$"] != 1 || len(dir.ctxErrs) != 1 || dir.ctxErrs[0] != nil {
		t.Fatalf("queries = %d, query context errors = %v; want one uncancelled query", dir.calls["PROXY01$"], dir.ctxErrs)
	}
}

func TestQueryTimeout(t *testing.T) {
	dir := newFakeDir(proxy01)
	dir.set(func(d *fakeDir) { d.gates["PROXY01$"] = make(chan struct{}) }) // never answers
	c, _ := newTestCache(t, dir, Options{QueryTimeout: 20 * time.Millisecond})
	_, err := c.Lookup(context.Background(), "PROXY01$")
	if !errors.Is(err, idp.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping the deadline", err)
	}
}

// TestOutageBackoff: after a query fails, misses do not wait for a directory
// that hangs: a known principal gets its stale answer and an unknown one
// ErrUnavailable at once (the caller's deadline would expire otherwise),
// while a query per key still goes out; after the back-off, and as soon as
// a query answers, lookups wait for the directory again.
func TestOutageBackoff(t *testing.T) {
	dir := newFakeDir(proxy01, repo01)
	c, clk := newTestCache(t, dir, Options{RefreshAhead: -1, QueryTimeout: time.Hour, OutageBackoff: 5 * time.Second})
	ctx := context.Background()
	for _, p := range []string{"PROXY01$", "REPO01$"} {
		if _, err := c.Lookup(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(6 * time.Minute)
	dir.set(func(d *fakeDir) { d.fail = errDown })
	if id, err := c.Lookup(ctx, "PROXY01$"); err != nil || !id.Stale { // waits for the failing query
		t.Fatalf("first lookup in the outage: %+v, %v", id, err)
	}
	// Now the directory hangs (until the hour-long query timeout).
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	dir.set(func(d *fakeDir) { d.fail = nil; d.gates["REPO01$"] = hang; d.gates["NEW01$"] = hang })
	short, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, err := c.Lookup(short, "REPO01$")
	if err != nil || !id.Stale {
		t.Fatalf("known principal during the back-off: %+v, %v; want its stale answer without waiting", id, err)
	}
	if _, err := c.Lookup(short, "NEW01$"); !errors.Is(err, idp.ErrUnavailable) || !errors.Is(err, errDown) {
		t.Fatalf("unknown principal during the back-off: %v; want ErrUnavailable citing the failure", err)
	}
	if short.Err() != nil {
		t.Fatal("a lookup waited for the hanging directory during the back-off")
	}
	waitFor(t, "background queries for both keys", func() bool { return dir.count("REPO01$") == 2 && dir.count("NEW01$") == 1 })
	if s := c.Stats(); s.Backoffs != 2 {
		t.Fatalf("stats = %+v, want 2 back-off answers", s)
	}
	// A query that answers ends the back-off.
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil { // in back-off: stale, starts a query that succeeds
		t.Fatal(err)
	}
	waitFor(t, "the outage to end", func() bool { return c.inOutage(clk.Now()) == nil })
	if id, err := c.Lookup(ctx, "PROXY01$"); err != nil || id.Stale {
		t.Fatalf("after a successful query: %+v, %v; want a fresh answer", id, err)
	}
}
