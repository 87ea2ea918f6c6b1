package flood

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of LimiterOptions.
const (
	DefaultRate           = 0.5 // requests per second
	DefaultBurst          = 10
	DefaultLimiterSources = 4096
)

// LimiterOptions configure a Limiter. Zero fields take the defaults named
// in their comments.
type LimiterOptions struct {
	// Rate is the sustained requests per second of one source (default
	// 0.5, one every 2s).
	Rate float64
	// Burst is how many requests a source may make at once (default 10).
	Burst int
	// MaxSources bounds the sources tracked (default 4096); further
	// sources share one bucket.
	MaxSources int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Limiter is a token bucket per source address with a bounded table.
// It is safe for concurrent use.
type Limiter struct {
	o       LimiterOptions
	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	other   bucket // shared by sources beyond MaxSources
	swept   time.Time
	limited atomic.Uint64
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a Limiter with o's settings.
func NewLimiter(o LimiterOptions) *Limiter {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.MaxSources <= 0 {
		o.MaxSources = DefaultLimiterSources
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Limiter{o: o, buckets: map[netip.Addr]*bucket{}, other: bucket{tokens: float64(o.Burst), at: o.Now()}}
}

// Allow takes one token from src's bucket. When none is left it returns
// false and how long until the next token.
func (l *Limiter) Allow(src netip.Addr) (bool, time.Duration) {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[src]
	if !ok {
		if len(l.buckets) >= l.o.MaxSources && now.Sub(l.swept) >= time.Second {
			l.sweep(now) // at most once a second: a spray of sources costs no O(n) per request
			l.swept = now
		}
		if len(l.buckets) < l.o.MaxSources {
			b = &bucket{tokens: float64(l.o.Burst), at: now}
			l.buckets[src] = b
		} else {
			b = &l.other
		}
	}
	b.refill(now, l.o.Rate, float64(l.o.Burst))
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	l.limited.Add(1)
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.o.Rate * float64(time.Second)))
	return false, wait
}

// Limited counts the requests refused since the Limiter was made.
func (l *Limiter) Limited() uint64 { return l.limited.Load() }

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(burst, b.tokens+d.Seconds()*rate)
	}
	b.at = now
}

// sweep forgets sources whose bucket is full again; with l.mu held.
func (l *Limiter) sweep(now time.Time) {
	for src, b := range l.buckets {
		b.refill(now, l.o.Rate, float64(l.o.Burst))
		if b.tokens >= float64(l.o.Burst) {
			delete(l.buckets, src)
		}
	}
}
