// Package shutout keeps the nodes that broke the broker's limits
// repeatedly: it counts offences per CURVE key in a sliding window and,
// past a threshold, shuts the key out for a while. The broker records
// offences and refuses a shut-out key's messages; the ZAP handler refuses
// its new handshakes. Both only see this package, so neither imports the
// other.
package shutout

import (
	"sync"
	"time"
)

// Defaults for a zero Config field.
const (
	// DefaultOffences is how many offences in DefaultWindow shut a key out.
	DefaultOffences = 3
	// DefaultWindow is how long an offence counts.
	DefaultWindow = 10 * time.Minute
	// DefaultDuration is how long a key stays shut out.
	DefaultDuration = 10 * time.Minute
)

// maxKeys bounds the keys remembered; only authenticated keys offend, so
// the bound is reached only by a registry of that many misbehaving nodes.
const maxKeys = 65536

// Config sets the threshold. Zero fields take the defaults.
type Config struct {
	// Offences is how many offences within Window shut a key out.
	Offences int
	// Window is how long an offence counts towards the threshold.
	Window time.Duration
	// Duration is how long a key stays shut out.
	Duration time.Duration
	// Now returns the time (nil: time.Now); for tests.
	Now func() time.Time
}

// List counts offences per key and answers whether a key is shut out. It
// is safe for concurrent use.
type List struct {
	cfg  Config
	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	principal string
	offences  []time.Time // within the window, oldest first
	until     time.Time   // shut out until, zero if not
}

// New returns an empty List.
func New(cfg Config) *List {
	if cfg.Offences <= 0 {
		cfg.Offences = DefaultOffences
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &List{cfg: cfg, keys: map[string]*entry{}}
}

// Offend records an offence of key (a CURVE public key in Z85) by
// principal and reports whether this offence shut the key out (true once,
// when the threshold is reached; further offences of a shut-out key
// report false and do not extend the shut-out).
func (l *List) Offend(key, principal string) bool {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= maxKeys {
			l.prune(now)
		}
		e = &entry{}
		l.keys[key] = e
	}
	e.principal = principal
	if now.Before(e.until) {
		return false
	}
	e.offences = append(recent(e.offences, now.Add(-l.cfg.Window)), now)
	if len(e.offences) < l.cfg.Offences {
		return false
	}
	e.offences = nil
	e.until = now.Add(l.cfg.Duration)
	return true
}

// ShutOut reports whether key is shut out now, with the principal that
// offended and when the shut-out ends. A nil List shuts no key out.
func (l *List) ShutOut(key string) (principal string, until time.Time, ok bool) {
	if l == nil {
		return "", time.Time{}, false
	}
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil || !now.Before(e.until) {
		return "", time.Time{}, false
	}
	return e.principal, e.until, true
}

// prune forgets keys that are neither shut out nor have a recent offence;
// if that frees nothing, it forgets every key not shut out.
func (l *List) prune(now time.Time) {
	since := now.Add(-l.cfg.Window)
	for k, e := range l.keys {
		if !now.Before(e.until) && len(recent(e.offences, since)) == 0 {
			delete(l.keys, k)
		}
	}
	if len(l.keys) < maxKeys {
		return
	}
	for k, e := range l.keys {
		if !now.Before(e.until) {
			delete(l.keys, k)
		}
	}
}

// recent drops the times before since from a sorted list.
func recent(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(since) {
		i++
	}
	return ts[i:]
}
