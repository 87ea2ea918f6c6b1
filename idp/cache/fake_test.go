package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
)

// clock is a fake, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeDir is a counting, failing, blockable directory.
type fakeDir struct {
	mu      sync.Mutex
	ids     map[string]idp.Identity
	fail    error                    // when set, every query fails with it
	gates   map[string]chan struct{} // a query for the key waits until the channel closes
	calls   map[string]int
	ctxErrs []error // ctx.Err() of each query when it finished waiting
	closed  int
}

func newFakeDir(ids ...idp.Identity) *fakeDir {
	d := &fakeDir{ids: map[string]idp.Identity{}, gates: map[string]chan struct{}{}, calls: map[string]int{}}
	for _, id := range ids {
		d.ids[id.Principal] = id
	}
	return d
}

func (d *fakeDir) Lookup(ctx context.Context, principal string) (idp.Identity, error) {
	d.mu.Lock()
	d.calls[principal]++
	gate := d.gates[principal]
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ctxErrs = append(d.ctxErrs, ctx.Err())
	if err := ctx.Err(); err != nil {
		return idp.Identity{}, fmt.Errorf("fake: %w", err)
	}
	if d.fail != nil {
		return idp.Identity{}, d.fail
	}
	id, ok := d.ids[principal]
	if !ok {
		return idp.Identity{}, fmt.Errorf("fake: %q: %w", principal, idp.ErrNotFound)
	}
	return id.Clone(), nil
}

func (d *fakeDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed++
	return nil
}

func (d *fakeDir) set(f func(d *fakeDir)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

func (d *fakeDir) count(principal string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[principal]
}

// keyDir adds idp.KeyFinder to fakeDir.
type keyDir struct {
	*fakeDir
	keys     map[[32]byte]string
	keyCalls int
}

func (d *keyDir) FindByKey(ctx context.Context, key [32]byte) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keyCalls++
	if d.fail != nil {
		return "", d.fail
	}
	p, ok := d.keys[key]
	if !ok {
		return "", fmt.Errorf("fake: key: %w", idp.ErrNotFound)
	}
	return p, nil
}

func (d *keyDir) countKeys() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keyCalls
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var (
	proxy01  = idp.Identity{Principal: "PROXY01$", DisplayName: "Proxy 01", Groups: []string{"CN=Backup Proxies,DC=corp"}, Enabled: true, Source: "fake"}
	repo01   = idp.Identity{Principal: "REPO01$", Groups: []string{"CN=Repositories,DC=corp"}, Enabled: true, Source: "fake"}
	disabled = idp.Identity{Principal: "OLD01$", Groups: []string{"CN=Backup Proxies,DC=corp"}, Enabled: false, Source: "fake"}
	errDown  = fmt.Errorf("fake: dial ldaps://dc1: connection refused")
)
