package cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zapgate/zapgate/idp"
)

// table caches one kind of directory answer (principal → identity, or
// key → principal) and runs at most one directory query per key at a time.
type table[K comparable, V any] struct {
	c     *Cache
	kind  string // "principal" or "key", for logs
	fetch func(context.Context, K) (V, error)
	clone func(V) V

	mu      sync.Mutex
	entries map[K]*entry[K, V]
	order   *list.List // of *entry, least recently stored first
	flights map[K]*flight[V]
}

// entry is one cached answer.
type entry[K comparable, V any] struct {
	key        K
	val        V
	notFound   bool      // the directory answered idp.ErrNotFound
	stored     time.Time // when the answer arrived
	refreshing bool      // a refresh-ahead query is in flight
	elem       *list.Element
}

// flight is one directory query shared by every caller that waits for it.
type flight[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func newTable[K comparable, V any](c *Cache, kind string, fetch func(context.Context, K) (V, error), clone func(V) V) *table[K, V] {
	return &table[K, V]{
		c:       c,
		kind:    kind,
		fetch:   fetch,
		clone:   clone,
		entries: make(map[K]*entry[K, V]),
		order:   list.New(),
		flights: make(map[K]*flight[V]),
	}
}

func (t *table[K, V]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// fresh reports whether e may be served without asking the directory.
func (t *table[K, V]) fresh(e *entry[K, V], now time.Time) bool {
	ttl := t.c.opts.TTL
	if e.notFound {
		ttl = t.c.opts.NegativeTTL
	}
	return now.Before(e.stored.Add(ttl))
}

// refreshDue reports whether a hit on the positive entry e should start a
// background refresh.
func (t *table[K, V]) refreshDue(e *entry[K, V], now time.Time) bool {
	frac := t.c.opts.RefreshAhead
	if e.notFound || e.refreshing || frac <= 0 || t.c.closed.Load() {
		return false
	}
	ahead := time.Duration(float64(t.c.opts.TTL) * frac)
	return !now.Before(e.stored.Add(t.c.opts.TTL - ahead))
}

// get returns the answer for k; stale is true when it was served from an
// expired entry because the directory failed. Errors are idp.ErrNotFound,
// or wrap idp.ErrUnavailable.
func (t *table[K, V]) get(ctx context.Context, k K) (v V, stale bool, err error) {
	now := t.c.now()
	t.mu.Lock()
	if e, ok := t.entries[k]; ok && t.fresh(e, now) {
		t.c.stats.hits.Add(1)
		if e.notFound {
			t.mu.Unlock()
			return v, false, idp.ErrNotFound
		}
		if t.refreshDue(e, now) {
			e.refreshing = true
			t.c.stats.refreshes.Add(1)
			t.join(ctx, k)
		}
		v = t.clone(e.val)
		t.mu.Unlock()
		return v, false, nil
	}
	t.c.stats.misses.Add(1)
	f := t.join(ctx, k)
	t.mu.Unlock()

	if cause := t.c.inOutage(now); cause != nil {
		select {
		case <-f.done: // answered already: use it below
		default:
			t.c.stats.backoffs.Add(1)
			return t.serveStale(k, fmt.Errorf("%w (a directory query failed less than %s ago; not waiting for a new one)", cause, t.c.opts.OutageBackoff))
		}
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return v, false, fmt.Errorf("%w: %w", idp.ErrUnavailable, ctx.Err())
	}
	switch {
	case f.err == nil:
		return t.clone(f.val), false, nil
	case errors.Is(f.err, idp.ErrNotFound):
		return v, false, f.err
	}
	return t.serveStale(k, f.err)
}

// serveStale answers from the last known positive entry for k within the
// stale grace, after the directory failed with cause.
func (t *table[K, V]) serveStale(k K, cause error) (v V, stale bool, err error) {
	now := t.c.now()
	t.mu.Lock()
	e, ok := t.entries[k]
	if ok && !e.notFound && t.c.opts.StaleGrace > 0 &&
		now.Before(e.stored.Add(t.c.opts.TTL+t.c.opts.StaleGrace)) {
		v = t.clone(e.val)
		stored := e.stored
		t.mu.Unlock()
		t.c.stats.staleServes.Add(1)
		t.c.log.Warn("directory unavailable, serving stale answer",
			"kind", t.kind, "key", describe(k), "age", now.Sub(stored), "err", cause)
		return v, true, nil
	}
	t.mu.Unlock()
	if errors.Is(cause, idp.ErrUnavailable) {
		return v, false, cause
	}
	return v, false, fmt.Errorf("%w: %w", idp.ErrUnavailable, cause)
}

// join returns the query in flight for k, starting one if there is none.
// The query keeps ctx's values but not its cancellation. t.mu must be held.
func (t *table[K, V]) join(ctx context.Context, k K) *flight[V] {
	if f, ok := t.flights[k]; ok {
		return f
	}
	f := &flight[V]{done: make(chan struct{})}
	if t.c.closed.Load() {
		f.err = errClosed
		close(f.done)
		return f
	}
	t.flights[k] = f
	t.c.wg.Add(1)
	go t.run(context.WithoutCancel(ctx), k, f)
	return f
}

// run queries the directory for k under its own deadline, records the
// answer and releases the waiters.
func (t *table[K, V]) run(ctx context.Context, k K, f *flight[V]) {
	defer t.c.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, t.c.opts.QueryTimeout)
	defer cancel()
	start := time.Now()
	val, err := t.fetch(ctx, k)
	t.c.stats.observe(time.Since(start))
	t.c.queryDone(err)

	t.mu.Lock()
	switch {
	case err == nil:
		t.store(k, t.clone(val), false)
	case errors.Is(err, idp.ErrNotFound):
		t.store(k, val, true)
	default:
		t.c.stats.errors.Add(1)
		if e, ok := t.entries[k]; ok {
			e.refreshing = false
		}
	}
	delete(t.flights, k)
	t.mu.Unlock()
	if err != nil && !errors.Is(err, idp.ErrNotFound) {
		t.c.log.Warn("directory query failed", "kind", t.kind, "key", describe(k), "err", err)
	}
	f.val, f.err = val, err
	close(f.done)
}

// store records an answer for k and evicts the least recently stored
// entries beyond MaxEntries. t.mu must be held.
func (t *table[K, V]) store(k K, val V, notFound bool) {
	e, ok := t.entries[k]
	if !ok {
		e = &entry[K, V]{key: k}
		e.elem = t.order.PushBack(e)
		t.entries[k] = e
	} else {
		t.order.MoveToBack(e.elem)
	}
	var zero V
	if notFound {
		val = zero
	}
	e.val, e.notFound, e.stored, e.refreshing = val, notFound, t.c.now(), false
	for t.order.Len() > t.c.opts.MaxEntries {
		old := t.order.Remove(t.order.Front()).(*entry[K, V])
		delete(t.entries, old.key)
	}
}

// describe formats a table key for logs: principals as they are, CURVE
// public keys as a short hex fingerprint.
func describe(k any) string {
	switch k := k.(type) {
	case [32]byte:
		return fmt.Sprintf("%x", k[:8])
	default:
		return fmt.Sprint(k)
	}
}
