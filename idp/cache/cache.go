package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zapgate/zapgate/idp"
)

// Default option values, used when the corresponding Options field is zero.
const (
	// DefaultTTL is the default Options.TTL.
	DefaultTTL = 5 * time.Minute
	// DefaultNegativeTTL is the default Options.NegativeTTL.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultRefreshAhead is the default Options.RefreshAhead.
	DefaultRefreshAhead = 0.2
	// DefaultStaleGrace is the default Options.StaleGrace.
	DefaultStaleGrace = 15 * time.Minute
	// DefaultQueryTimeout is the default Options.QueryTimeout.
	DefaultQueryTimeout = 5 * time.Second
	// DefaultOutageBackoff is the default Options.OutageBackoff.
	DefaultOutageBackoff = 5 * time.Second
	// DefaultMaxEntries is the default Options.MaxEntries.
	DefaultMaxEntries = 10000
)

// Options configure a Cache. Zero values select the defaults; the caller's
// struct is never modified.
type Options struct {
	// TTL is how long a positive answer (enabled or disabled account) is
	// served without asking the directory (default 5m).
	TTL time.Duration
	// NegativeTTL is how long an idp.ErrNotFound answer is cached
	// (default 30s).
	NegativeTTL time.Duration
	// RefreshAhead is the fraction of TTL at the end of an entry's life
	// during which a hit triggers one background refresh (default 0.2;
	// negative disables refresh-ahead).
	RefreshAhead float64
	// StaleGrace is how long past its TTL a positive answer is still served,
	// marked Stale, while the directory fails (default 15m; negative
	// disables stale serving).
	StaleGrace time.Duration
	// QueryTimeout bounds each directory query (default 5s).
	QueryTimeout time.Duration
	// OutageBackoff is how long after a failed directory query a lookup
	// that misses does not wait for the directory: a principal within its
	// stale grace gets its stale answer at once and an unknown one an
	// idp.ErrUnavailable error at once, while one query per key still goes
	// out in the background so that recovery is noticed. It keeps a
	// directory that hangs from stalling every handshake for QueryTimeout
	// (default 5s; negative disables: every miss waits for its query).
	OutageBackoff time.Duration
	// MaxEntries bounds each table (principals, keys); the least recently
	// stored entry is evicted first (default 10000).
	MaxEntries int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives outage and refresh messages (nil: slog.Default()).
	Logger *slog.Logger
}

// Cache is an idp.Directory that caches the answers of another one. It is
// safe for concurrent use.
type Cache struct {
	dir   idp.Directory
	keys  idp.KeyFinder // nil when dir cannot find principals by key
	opts  Options
	log   *slog.Logger
	stats counters

	principals *table[string, idp.Identity]
	keyTable   *table[[32]byte, string]

	wg     sync.WaitGroup // directory queries in flight
	closed atomic.Bool

	outageMu    sync.Mutex
	outageUntil time.Time // misses do not wait for the directory before this
	outageCause error     // the failure that started the back-off
}

var (
	_ idp.Directory = (*Cache)(nil)
	_ idp.KeyFinder = (*Cache)(nil)
	_ idp.Closer    = (*Cache)(nil)
)

// New returns a Cache in front of dir.
func New(dir idp.Directory, opts Options) *Cache {
	o := withDefaults(opts)
	c := &Cache{
		dir:  dir,
		opts: o,
		log:  o.Logger.With("component", "idp", "directory", "cache"),
	}
	c.keys, _ = dir.(idp.KeyFinder)
	c.principals = newTable(c, "principal", dir.Lookup, idp.Identity.Clone)
	if c.keys != nil {
		c.keyTable = newTable(c, "key", c.keys.FindByKey, func(s string) string { return s })
	}
	return c
}

func withDefaults(o Options) Options {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	switch {
	case o.RefreshAhead == 0:
		o.RefreshAhead = DefaultRefreshAhead
	case o.RefreshAhead < 0:
		o.RefreshAhead = 0
	case o.RefreshAhead > 1:
		o.RefreshAhead = 1
	}
	switch {
	case o.StaleGrace == 0:
		o.StaleGrace = DefaultStaleGrace
	case o.StaleGrace < 0:
		o.StaleGrace = 0
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	switch {
	case o.OutageBackoff == 0:
		o.OutageBackoff = DefaultOutageBackoff
	case o.OutageBackoff < 0:
		o.OutageBackoff = 0
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Lookup returns the identity of principal from the cache or the wrapped
// directory. The result shares no memory with the cache. During a directory
// outage a recently seen principal is returned with Stale=true; otherwise
// the error wraps idp.ErrUnavailable. A "no such principal" answer wraps
// idp.ErrNotFound.
func (c *Cache) Lookup(ctx context.Context, principal string) (idp.Identity, error) {
	id, stale, err := c.principals.get(ctx, principal)
	if err != nil {
		return idp.Identity{}, fmt.Errorf("cache: lookup %q: %w", principal, err)
	}
	id.Stale = id.Stale || stale
	return id, nil
}

// SupportsKeys reports whether the wrapped directory implements
// idp.KeyFinder, i.e. whether FindByKey can succeed.
func (c *Cache) SupportsKeys() bool { return c.keys != nil }

// FindByKey returns the principal whose account carries the CURVE public
// key, caching the wrapped directory's answers with the same TTL, negative
// TTL, refresh-ahead and stale-grace rules as Lookup. When the wrapped
// directory is not an idp.KeyFinder the error wraps errors.ErrUnsupported.
func (c *Cache) FindByKey(ctx context.Context, key [32]byte) (string, error) {
	if c.keyTable == nil {
		return "", fmt.Errorf("cache: find by key: %w", errors.ErrUnsupported)
	}
	principal, _, err := c.keyTable.get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("cache: find by key %x: %w", key[:4], err)
	}
	return principal, nil
}

// Unwrap returns the wrapped directory, for diagnostics that must measure
// the directory itself (zapgate doctor). Close the Cache, not the result.
func (c *Cache) Unwrap() idp.Directory { return c.dir }

// Close stops background refreshes, waits for queries in flight (each is
// bounded by QueryTimeout) and closes the wrapped directory when it is an
// idp.Closer.
func (c *Cache) Close() error {
	// Setting closed under the table locks orders it before any later
	// join, so no query starts after Wait begins.
	c.principals.mu.Lock()
	if c.keyTable != nil {
		c.keyTable.mu.Lock()
	}
	c.closed.Store(true)
	if c.keyTable != nil {
		c.keyTable.mu.Unlock()
	}
	c.principals.mu.Unlock()
	c.wg.Wait()
	if cl, ok := c.dir.(idp.Closer); ok {
		if err := cl.Close(); err != nil {
			return fmt.Errorf("cache: close directory: %w", err)
		}
	}
	return nil
}

// errClosed is the query failure of a closed Cache; it wraps
// idp.ErrUnavailable so callers answer with a temporary failure.
var errClosed = fmt.Errorf("cache: closed: %w", idp.ErrUnavailable)

// queryDone records the outcome of a directory query for the outage
// back-off: a failure starts (or extends) it, an answer ends it.
func (c *Cache) queryDone(err error) {
	c.outageMu.Lock()
	defer c.outageMu.Unlock()
	if err == nil || errors.Is(err, idp.ErrNotFound) {
		c.outageUntil, c.outageCause = time.Time{}, nil
		return
	}
	if c.opts.OutageBackoff > 0 {
		c.outageUntil, c.outageCause = c.now().Add(c.opts.OutageBackoff), err
	}
}

// inOutage returns the failure that started the outage back-off when now is
// within it, and nil otherwise.
func (c *Cache) inOutage(now time.Time) error {
	c.outageMu.Lock()
	defer c.outageMu.Unlock()
	if c.outageCause != nil && now.Before(c.outageUntil) {
		return c.outageCause
	}
	return nil
}

func (c *Cache) now() time.Time { return c.opts.Now() }
