package certs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure a Registry. The zero value is usable.
type Options struct {
	// Logger receives load results and problems; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock used to check expiry; nil means time.Now.
	Now func() time.Time
	// Debounce is how long Watch waits after the first change event before
	// it reloads, so a burst of changes is read once; 0 means 100ms.
	Debounce time.Duration
	// Resync is how often Watch reloads even without events, to recover
	// from lost events or a directory that was replaced; 0 means one
	// minute, a negative value disables it.
	Resync time.Duration
	// OnLoad, if not nil, is called with a Snapshot after every load that
	// swapped in a new state (the one in Open included), one call at a
	// time and in order; the broker audits registry changes from it.
	OnLoad func(Snapshot)
}

// Registry maps public keys to principals, read from a directory of public
// certificate files (see Open). It is safe for concurrent use.
type Registry struct {
	dir      string
	log      *slog.Logger
	now      func() time.Time
	debounce time.Duration
	resync   time.Duration
	onLoad   func(Snapshot)

	state    atomic.Pointer[state]
	reloadMu sync.Mutex    // serializes reloads
	kick     chan struct{} // asks Watch for a reload; capacity 1

	runMu sync.Mutex         // guards stop and done
	stop  context.CancelFunc // stops the Watch started by Start
	done  chan error         // receives that Watch's result

	loads        atomic.Uint64
	reloadErrors atomic.Uint64
	lastLoad     atomic.Int64 // unix nanoseconds of the current state
}

// Stats are a Registry's counters.
type Stats struct {
	// Loads counts successful loads, the initial one included.
	Loads uint64
	// ReloadErrors counts reloads that failed because a directory could
	// not be read; the last good state was kept each time.
	ReloadErrors uint64
	// Skipped is the number of *.key files the current state did not load
	// because they were malformed or invalid.
	Skipped int
	// Bindings is the number of keys currently trusted.
	Bindings int
	// Conflicts is the number of keys bound by more than one file.
	Conflicts int
	// Revoked is the number of keys in revoked/.
	Revoked int
	// Refused is the number of skipped files refused because another
	// user may change them (see ErrUntrusted); they count in Skipped too.
	Refused int
	// DirError is why the registry directory itself is refused (then
	// Bindings is 0), or "" when it is trusted.
	DirError string
	// Missing is true while the registry directory is gone (then Bindings
	// is 0).
	Missing bool
	// LastLoad is when the current state was read.
	LastLoad time.Time
}

// Open reads the key registry in dir: every "NAME.key" file binds the public
// key it holds to the principal in its metadata ("principal", required;
// "source", "note" and "expires" optional, see ParseExpires). Secret files,
// dotfiles, editor backups and subdirectories are ignored; keys in the
// revoked/ subdirectory are refused. A malformed file is skipped, logged and
// counted; a key bound by two files is trusted by neither. A file, or the
// directory, that another user may change is refused (ErrUntrusted; see
// docs/security.md). Open fails only when dir cannot be read. Call Watch,
// or Start and Close, to follow changes.
func Open(dir string, opts Options) (*Registry, error) {
	r := &Registry{
		dir:      dir,
		log:      opts.Logger,
		now:      opts.Now,
		debounce: opts.Debounce,
		resync:   opts.Resync,
		onLoad:   opts.OnLoad,
		kick:     make(chan struct{}, 1),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("component", "certs", "registry", dir)
	if r.now == nil {
		r.now = time.Now
	}
	if r.debounce <= 0 {
		r.debounce = 100 * time.Millisecond
	}
	if r.resync == 0 {
		r.resync = time.Minute
	}
	if _, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("certs: read registry %q: %w", dir, err)
	}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Dir returns the registry directory.
func (r *Registry) Dir() string { return r.dir }

// Reload reads the directory now and swaps in the new state. When the
// directory is gone (moved away or deleted), it swaps in an empty state —
// no key is bound until the directory is back — and returns the error.
// When a directory cannot be read for another reason, it keeps the last
// good state, counts the error and returns it.
func (r *Registry) Reload() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	res, err := scanDir(r.dir)
	var next *state
	switch {
	case err != nil && dirGone(r.dir):
		r.reloadErrors.Add(1)
		next = missingState(r.dir, err)
	case err != nil:
		r.reloadErrors.Add(1)
		r.log.Error("key registry reload failed; keeping the last good state", "err", err)
		return err
	default:
		next = buildState(res)
	}
	prev := r.state.Swap(next)
	r.loads.Add(1)
	r.lastLoad.Store(time.Now().UnixNano())
	r.logProblems(prev, next)
	r.log.Info("key registry loaded", "bindings", len(next.byKey), "skipped", next.skipped,
		"refused", next.refused, "conflicts", len(next.conflicts), "revoked", len(next.revoked))
	if r.onLoad != nil {
		r.onLoad(next.snapshot(r.dir))
	}
	return err
}

// logProblems logs the problems of next that prev did not have, so a file
// that stays broken is reported once rather than at every reload.
func (r *Registry) logProblems(prev, next *state) {
	old := map[string]bool{}
	if prev != nil {
		for _, p := range prev.problems {
			old[p.Error()] = true
		}
	}
	for _, p := range next.problems {
		if !old[p.Error()] {
			r.log.Warn("key registry problem", "err", p)
		}
	}
}

// Lookup returns the binding of key. A refusal is a *LookupError (matching
// ErrUnknownKey, ErrExpired, ErrConflict or ErrRevoked); the returned
// Binding is then the zero value.
//
// Besides the state Watch keeps current, Lookup checks that the binding's
// file is still there and unchanged, so removing or moving a file (as
// Revoke does) takes effect for the next handshake: a vanished file makes
// the key unknown, a changed file is read again, and either asks Watch for
// a reload. A file whose mode or owner changed is read again too, so one
// made writable by others is refused at once (ErrUntrusted). A vanished
// directory (moved away) makes every key unknown: fail closed.
func (r *Registry) Lookup(key PublicKey) (Binding, error) {
	s := r.state.Load()
	if rb, ok := s.revoked[key]; ok {
		return Binding{}, &LookupError{Reason: ReasonRevoked, Key: key, Principal: rb.Principal, Files: []string{rb.File}}
	}
	if files, ok := s.conflicts[key]; ok {
		return Binding{}, &LookupError{Reason: ReasonConflict, Key: key, Files: files}
	}
	lb, ok := s.byKey[key]
	if !ok {
		return Binding{}, &LookupError{Reason: ReasonUnknown, Key: key}
	}
	b, err := r.confirm(lb)
	if err != nil {
		return Binding{}, err
	}
	if b.Expired(r.now()) {
		return Binding{}, &LookupError{Reason: ReasonExpired, Key: key, Principal: b.Principal, Expires: b.Expires, Files: []string{b.File}}
	}
	return b, nil
}

// confirm checks that lb's file still holds lb, re-reading it if it
// changed since it was loaded (its content, mode or owner). A file that
// cannot be found — removed, or the whole directory moved away — is not
// this key's binding any more: fail closed.
func (r *Registry) confirm(lb loadedBinding) (Binding, error) {
	fi, err := os.Stat(lb.File)
	if err == nil && os.SameFile(fi, lb.info) && fi.Size() == lb.info.Size() &&
		fi.ModTime().Equal(lb.info.ModTime()) && fi.Mode() == lb.info.Mode() && sameOwner(fi, lb.info) {
		return lb.Binding, nil
	}
	r.requestReload()
	gone := &LookupError{Reason: ReasonUnknown, Key: lb.Key, Files: []string{lb.File}}
	if err != nil {
		return Binding{}, gone
	}
	fresh, err := loadBinding(lb.File)
	if err != nil || fresh.Key != lb.Key {
		return Binding{}, gone // changed to something else: not this key's binding any more
	}
	return fresh.Binding, nil
}

// requestReload asks Watch, if it runs, to reload soon.
func (r *Registry) requestReload() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// dirGone reports whether dir no longer exists as a directory.
func dirGone(dir string) bool {
	fi, err := os.Stat(dir)
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && !fi.IsDir()
}

// sameOwner reports whether a and b have the same owner and group.
func sameOwner(a, b fs.FileInfo) bool {
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okA == okB && (!okA || sa.Uid == sb.Uid && sa.Gid == sb.Gid)
}

// Stats returns the registry's counters.
func (r *Registry) Stats() Stats {
	s := r.state.Load()
	dirErr := ""
	if s.dirErr != nil {
		dirErr = s.dirErr.Error()
	}
	return Stats{
		Refused:      s.refused,
		DirError:     dirErr,
		Missing:      s.missing,
		Loads:        r.loads.Load(),
		ReloadErrors: r.reloadErrors.Load(),
		Skipped:      s.skipped,
		Bindings:     len(s.byKey),
		Conflicts:    len(s.conflicts),
		Revoked:      len(s.revoked),
		LastLoad:     time.Unix(0, r.lastLoad.Load()),
	}
}

// Problems returns the problems found by the load that produced the current
// state: skipped files with their errors, conflicts, revoked keys still
// present in the directory and secret files that do not belong there.
func (r *Registry) Problems() []error {
	return append([]error(nil), r.state.Load().problems...)
}
