package cache

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
)

func newTestCache(t testing.TB, dir idp.Directory, opts Options) (*Cache, *clock) {
	t.Helper()
	clk := newClock()
	opts.Now = clk.Now
	opts.Logger = slog.New(slog.DiscardHandler)
	c := New(dir, opts)
	t.Cleanup(func() { _ = c.Close() })
	return c, clk
}

func TestTTL(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		advance   time.Duration
		queries   int
		wantErr   error
	}{
		{"positive within TTL", "PROXY01$", 5*time.Minute - time.Second, 1, nil},
		{"positive after TTL", "PROXY01$", 5 * time.Minute, 2, nil},
		{"disabled within TTL", "OLD01$", 4 * time.Minute, 1, nil},
		{"disabled after TTL", "OLD01$", 6 * time.Minute, 2, nil},
		{"negative within negative TTL", "NOBODY$", 29 * time.Second, 1, idp.ErrNotFound},
		{"negative after negative TTL", "NOBODY$", 30 * time.Second, 2, idp.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newFakeDir(proxy01, disabled)
			c, clk := newTestCache(t, dir, Options{RefreshAhead: -1})
			for i := 0; i < 2; i++ {
				id, err := c.Lookup(context.Background(), tt.principal)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("lookup %d: err = %v, want %v", i, err, tt.wantErr)
				}
				if err == nil && (id.Principal != tt.principal || id.Stale) {
					t.Fatalf("lookup %d: got %+v", i, id)
				}
				if i == 0 {
					clk.Advance(tt.advance)
				}
			}
			if got := dir.count(tt.principal); got != tt.queries {
				t.Errorf("directory queries = %d, want %d", got, tt.queries)
			}
		})
	}
}

func TestDisabledAccountIsAnAnswer(t *testing.T) {
	c, _ := newTestCache(t, newFakeDir(disabled), Options{})
	id, err := c.Lookup(context.Background(), "OLD01$")
	if err != nil || id.Enabled {
		t.Fatalf("got %+v, %v; want a disabled identity", id, err)
	}
}

func TestReturnedIdentityDoesNotAlias(t *testing.T) {
	c, _ := newTestCache(t, newFakeDir(proxy01), Options{})
	first, err := c.Lookup(context.Background(), "PROXY01$")
	if err != nil {
		t.Fatal(err)
	}
	first.Groups[0] = "CN=Domain Admins,DC=corp"
	second, err := c.Lookup(context.Background(), "PROXY01$")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(second.Groups, proxy01.Groups) {
		t.Fatalf("cache memory was modified through a returned identity: %v", second.Groups)
	}
}

func TestSingleFlight(t *testing.T) {
	const n = 64
	dir := newFakeDir(proxy01)
	gate := make(chan struct{})
	dir.set(func(d *fakeDir) { d.gates["PROXY01$"] = gate })
	c, _ := newTestCache(t, dir, Options{})

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := c.Lookup(context.Background(), "PROXY01$")
			if err == nil && id.Principal != "PROXY01$" {
				err = errors.New("wrong identity")
			}
			errs <- err
		}()
	}
	waitFor(t, "all lookups to join the query", func() bool { return c.Stats().Misses == n })
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := dir.count("PROXY01$"); got != 1 {
		t.Fatalf("directory queries = %d, want 1", got)
	}
	if s := c.Stats(); s.Queries != 1 || s.Entries != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestDifferentPrincipalsInParallel(t *testing.T) {
	dir := newFakeDir(proxy01, repo01)
	gate := make(chan struct{})
	dir.set(func(d *fakeDir) { d.gates["PROXY01$"] = gate })
	c, _ := newTestCache(t, dir, Options{})

	done := make(chan error, 1)
	go func() {
		_, err := c.Lookup(context.Background(), "PROXY01$")
		done <- err
	}()
	waitFor(t, "the blocked query to start", func() bool { return dir.count("PROXY01$") == 1 })
	if _, err := c.Lookup(context.Background(), "REPO01$"); err != nil {
		t.Fatalf("lookup of another principal while one is blocked: %v", err)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRefreshAhead(t *testing.T) {
	dir := newFakeDir(proxy01)
	c, clk := newTestCache(t, dir, Options{})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
		t.Fatal(err)
	}

	// Block the refresh so that callers must not be waiting for it.
	gate := make(chan struct{})
	dir.set(func(d *fakeDir) {
		d.gates["PROXY01$"] = gate
		g := slices.Clone(proxy01.Groups)
		d.ids["PROXY01$"] = idp.Identity{Principal: "PROXY01$", Groups: append(g, "CN=New,DC=corp"), Enabled: true}
	})
	clk.Advance(4*time.Minute + 10*time.Second) // within the last 20% of 5m
	for i := 0; i < 10; i++ {
		id, err := c.Lookup(ctx, "PROXY01$")
		if err != nil || len(id.Groups) != 1 {
			t.Fatalf("hit %d during refresh: %+v, %v; want the cached answer", i, id, err)
		}
	}
	waitFor(t, "the refresh query", func() bool { return dir.count("PROXY01$") == 2 })
	close(gate)
	c.wg.Wait()
	if s := c.Stats(); s.Refreshes != 1 || s.Queries != 2 || s.Hits != 10 || s.Misses != 1 {
		t.Fatalf("stats = %+v; want one refresh", s)
	}

	// The refreshed entry lives a full TTL from the refresh.
	clk.Advance(3 * time.Minute)
	id, err := c.Lookup(ctx, "PROXY01$")
	if err != nil || len(id.Groups) != 2 {
		t.Fatalf("after refresh: %+v, %v; want the refreshed answer", id, err)
	}
	if got := dir.count("PROXY01$"); got != 2 {
		t.Fatalf("directory queries = %d, want 2", got)
	}
}

func TestRefreshAheadNotFoundRevokes(t *testing.T) {
	dir := newFakeDir(proxy01)
	c, clk := newTestCache(t, dir, Options{})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	dir.set(func(d *fakeDir) { delete(d.ids, "PROXY01$") })
	clk.Advance(4*time.Minute + 30*time.Second)
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
		t.Fatalf("hit before the refresh lands: %v", err)
	}
	c.wg.Wait()
	if _, err := c.Lookup(ctx, "PROXY01$"); !errors.Is(err, idp.ErrNotFound) {
		t.Fatalf("after a not-found refresh: err = %v, want ErrNotFound", err)
	}
}

func TestMaxEntries(t *testing.T) {
	dir := newFakeDir(proxy01, repo01, disabled)
	c, _ := newTestCache(t, dir, Options{MaxEntries: 2})
	ctx := context.Background()
	for _, p := range []string{"PROXY01$", "REPO01$", "OLD01$"} {
		if _, err := c.Lookup(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Stats().Entries; n != 2 {
		t.Fatalf("entries = %d, want 2", n)
	}
	for _, p := range []string{"REPO01$", "OLD01$", "PROXY01$"} {
		if _, err := c.Lookup(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]int{"PROXY01$": 2, "REPO01$": 1, "OLD01$": 1} {
		if got := dir.count(p); got != want {
			t.Errorf("queries for %s = %d, want %d (oldest evicted)", p, got, want)
		}
	}
}

func TestClose(t *testing.T) {
	dir := newFakeDir(proxy01)
	c := New(dir, Options{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if dir.closed != 1 {
		t.Fatalf("wrapped directory closed %d times, want 1", dir.closed)
	}
	if _, err := c.Lookup(context.Background(), "PROXY01$"); !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("lookup after close: err = %v, want ErrUnavailable", err)
	}
}

func TestStatsLatency(t *testing.T) {
	c, _ := newTestCache(t, newFakeDir(proxy01), Options{})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Stats()
	if s.Hits != 2 || s.Misses != 1 || s.Queries != 1 || s.Entries != 1 || s.QueryTime <= 0 || s.QueryMax != s.QueryTime {
		t.Fatalf("stats = %+v", s)
	}
}

func TestOptionsDefaults(t *testing.T) {
	in := Options{StaleGrace: -1, RefreshAhead: -1}
	o := withDefaults(in)
	if in.TTL != 0 || in.StaleGrace != -1 {
		t.Fatal("withDefaults modified the caller's options")
	}
	if o.TTL != DefaultTTL || o.NegativeTTL != DefaultNegativeTTL || o.QueryTimeout != DefaultQueryTimeout ||
		o.MaxEntries != DefaultMaxEntries || o.StaleGrace != 0 || o.RefreshAhead != 0 || o.Now == nil || o.Logger == nil {
		t.Fatalf("defaults = %+v", o)
	}
	if o := withDefaults(Options{}); o.StaleGrace != DefaultStaleGrace || o.RefreshAhead != DefaultRefreshAhead {
		t.Fatalf("defaults = %+v", o)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	c, _ := newTestCache(b, newFakeDir(proxy01), Options{})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Lookup(ctx, "PROXY01$"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
