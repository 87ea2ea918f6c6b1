package flood

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// budget is the per-source accounting shared by Aggregator (audit
// records) and LineLimiter (log lines): per interval, the first perSource
// events of each source pass in full, at most maxFull in all; the rest are
// counted by reason for one summary per source. At most maxSources
// sources have a tally of their own; further ones share one. It is not
// safe for concurrent use: its owner holds a lock.
type budget struct {
	perSource, maxSources, maxFull int

	sources map[netip.Addr]*tally
	other   *tally // overflow bucket (and everything while below the reserve)
	written int    // events passed in full this interval
}

func newBudget(perSource, maxSources, maxFull int) budget {
	return budget{perSource: perSource, maxSources: maxSources, maxFull: maxFull, sources: map[netip.Addr]*tally{}}
}

// take accounts for one event of src at now. It reports whether the event
// passes in full; mayPass false only counts it.
func (b *budget) take(src netip.Addr, now time.Time, reason, key string, mayPass bool) bool {
	t := b.tallyOf(src)
	t.total++
	if t.first.IsZero() {
		t.first = now
	}
	t.last = now
	full := mayPass && t.total-t.counted <= b.perSource && b.written < b.maxFull
	if full {
		b.written++
	} else {
		t.counted++
		t.add(reason, key)
	}
	return full
}

// reset ends the interval and returns its tallies.
func (b *budget) reset() (map[netip.Addr]*tally, *tally) {
	sources, other := b.sources, b.other
	b.sources, b.other, b.written = map[netip.Addr]*tally{}, nil, 0
	return sources, other
}

// tallyOf returns the source's tally.
func (b *budget) tallyOf(src netip.Addr) *tally {
	if t, ok := b.sources[src]; ok {
		return t
	}
	if len(b.sources) >= b.maxSources {
		if b.other == nil {
			b.other = &tally{seen: map[netip.Addr]struct{}{}}
		}
		if _, ok := b.other.seen[src]; !ok && len(b.other.seen) < maxSeen {
			b.other.seen[src] = struct{}{}
			b.other.sources++
		}
		return b.other
	}
	t := &tally{}
	b.sources[src] = t
	return t
}

// tally is one source's events in the current interval.
type tally struct {
	total, counted int
	reasons        map[string]int
	keys           []string
	moreKeys       int
	first, last    time.Time
	sources        int                     // sources merged into this tally (at least)
	seen           map[netip.Addr]struct{} // the overflow bucket's sources, bounded
}

// maxSeen bounds the distinct sources the overflow bucket remembers.
const maxSeen = 4096

// add counts a reason and samples a key.
func (t *tally) add(reason, key string) {
	if t.reasons == nil {
		t.reasons = map[string]int{}
	}
	reason = reasonCode(reason)
	if _, ok := t.reasons[reason]; !ok && len(t.reasons) >= maxReasons {
		reason = "other"
	}
	t.reasons[reason]++
	if key == "" || slices.Contains(t.keys, key) {
		return
	}
	if len(t.keys) < maxKeys {
		t.keys = append(t.keys, key)
	} else {
		t.moreKeys++
	}
}

// reasonCode is the first word of a reason (enrollment reasons carry
// details after the code).
func reasonCode(r string) string {
	if i := strings.IndexByte(r, ' '); i >= 0 {
		r = r[:i]
	}
	if r == "" {
		return "none"
	}
	return r
}

// merge adds t's counts to m.
func (m *tally) merge(t *tally) {
	m.total += t.total
	m.counted += t.counted
	for r, n := range t.reasons {
		if m.reasons == nil {
			m.reasons = map[string]int{}
		}
		if _, ok := m.reasons[r]; !ok && len(m.reasons) >= maxReasons {
			r = "other"
		}
		m.reasons[r] += n
	}
	for _, k := range t.keys {
		if len(m.keys) < maxKeys && !slices.Contains(m.keys, k) {
			m.keys = append(m.keys, k)
		} else if !slices.Contains(m.keys, k) {
			m.moreKeys++
		}
	}
	m.moreKeys += t.moreKeys
	if m.first.IsZero() || (!t.first.IsZero() && t.first.Before(m.first)) {
		m.first = t.first
	}
	if t.last.After(m.last) {
		m.last = t.last
	}
}

// reasonList is the tally's counts by reason, sorted: "a:1,b:2".
func (t *tally) reasonList() string {
	names := make([]string, 0, len(t.reasons))
	for r := range t.reasons {
		names = append(names, r)
	}
	slices.Sort(names)
	for i, r := range names {
		names[i] = r + ":" + strconv.Itoa(t.reasons[r])
	}
	return strings.Join(names, ",")
}
