package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
)

func TestKeyFinder(t *testing.T) {
	known, unknown := [32]byte{1, 2, 3}, [32]byte{9}
	tests := []struct {
		name    string
		key     [32]byte
		advance time.Duration
		outage  bool
		want    string
		wantErr error
		queries int
	}{
		{"hit within TTL", known, 4 * time.Minute, false, "PROXY01$", nil, 1},
		{"requery after TTL", known, 5 * time.Minute, false, "PROXY01$", nil, 2},
		{"negative cached", unknown, 29 * time.Second, false, "", idp.ErrNotFound, 1},
		{"negative expires", unknown, 30 * time.Second, false, "", idp.ErrNotFound, 2},
		{"stale during outage", known, 10 * time.Minute, true, "PROXY01$", nil, 2},
		{"past grace during outage", known, 20 * time.Minute, true, "", idp.ErrUnavailable, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := &keyDir{fakeDir: newFakeDir(proxy01), keys: map[[32]byte]string{known: "PROXY01$"}}
			c, clk := newTestCache(t, dir, Options{RefreshAhead: -1})
			if !c.SupportsKeys() {
				t.Fatal("SupportsKeys = false for a KeyFinder")
			}
			var got string
			var err error
			for i := 0; i < 2; i++ {
				got, err = c.FindByKey(context.Background(), tt.key)
				if i == 0 {
					clk.Advance(tt.advance)
					dir.set(func(d *fakeDir) {
						if tt.outage {
							d.fail = errDown
						}
					})
				}
			}
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if n := dir.countKeys(); n != tt.queries {
				t.Errorf("key queries = %d, want %d", n, tt.queries)
			}
		})
	}
}

func TestKeyFinderUnsupported(t *testing.T) {
	c, _ := newTestCache(t, newFakeDir(), Options{})
	if c.SupportsKeys() {
		t.Fatal("SupportsKeys = true for a directory without FindByKey")
	}
	if _, err := c.FindByKey(context.Background(), [32]byte{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}
