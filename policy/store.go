package policy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// StoreOptions configure a Store.
type StoreOptions struct {
	// File is the policy file.
	File string
	// RequireSignature refuses a policy without a valid FILE.sig from one
	// of the keys in TrustedKeyFiles.
	RequireSignature bool
	// TrustedKeyFiles are public key files, read again at every reload so
	// a key can be rotated with a reload.
	TrustedKeyFiles []string
	// Logger receives reload results (with component=policy); nil means
	// slog.Default().
	Logger *slog.Logger
	// Debounce is the quiet period Watch waits for after a change before
	// it reloads, so a file written in several steps is read once it is
	// complete; 0 means 250ms. A steady stream of changes still reloads
	// after at most 10 times Debounce.
	Debounce time.Duration
	// Resync is how often Watch reloads without events, to recover from
	// lost events; 0 means one minute, a negative value disables it.
	Resync time.Duration
	// Settle is how long a reload waits between the two reads of the file
	// that must return the same bytes before it is loaded (see
	// ErrIncomplete); 0 means 100ms. The first load (Open) does not wait.
	Settle time.Duration
	// OnReload, when set, is called after every load attempt, the first
	// included (e.g. to write a policy.reload audit record). It must not
	// block for long.
	OnReload func(ReloadEvent)
}

// ReloadEvent reports one load attempt.
type ReloadEvent struct {
	// At is when the attempt finished.
	At time.Time
	// Trigger is "open", "reload" (Reload, e.g. on SIGHUP), "watch" (a
	// file change) or "resync".
	Trigger string
	// Revision is the revision serving after the attempt.
	Revision string
	// Previous is the revision that served before it ("" on open).
	Previous string
	// Hash and PreviousHash are the content hashes (Policy.ContentHash)
	// of the policy serving after and before the attempt.
	Hash, PreviousHash string
	// Changed is true when a different policy was swapped in.
	Changed bool
	// Weakened, when Changed, lists the deny rules and tests the new
	// policy removed, with the policy diff; nil when it removed none.
	Weakened *Weakening
	// Err is why the attempt failed, nil on success. On failure the
	// previous policy keeps serving.
	Err error
}

// Status is a Store's state, for the health endpoint.
type Status struct {
	// File is the policy file.
	File string
	// Revision is the revision serving now.
	Revision string
	// Hash is the hex SHA-256 of the serving policy file's bytes.
	Hash string
	// SignedBy is the ID of the key whose signature was verified, or "".
	SignedBy string
	// LoadedAt is when the serving policy was loaded.
	LoadedAt time.Time
	// Reloads counts reloads that swapped in a changed policy (the first
	// load not included).
	Reloads uint64
	// Failures counts failed load attempts since the Store was opened.
	Failures uint64
	// LastError is the error of the most recent attempt, or "" when it
	// succeeded: a non-empty LastError means the file on disk is not the
	// policy that serves.
	LastError string
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// Store holds the current policy and replaces it, whole and atomically,
// when the file changes and the new version passes every check. Decide
// and Roles are safe for concurrent use with reloads: each call uses one
// policy from start to end.
type Store struct {
	opts StoreOptions
	log  *slog.Logger

	current  atomic.Pointer[Policy]
	loadedAt atomic.Int64 // unix nanoseconds
	reloads  atomic.Uint64
	failures atomic.Uint64
	lastErr  atomic.Pointer[failure]
	reloadMu sync.Mutex // serializes load attempts

	runMu sync.Mutex
	stop  context.CancelFunc
	done  chan error

	probeWarned atomic.Bool // the open-for-writing probe failed once
	waiting     atomic.Bool // an incomplete file was reported; cleared by the next load
}

type failure struct {
	msg string
	at  time.Time
}

// Open loads the policy file with every check (signature when required,
// validation, embedded tests) and returns a Store serving it. It fails if
// that first load fails: there is no last good policy to fall back on.
func Open(opts StoreOptions) (*Store, error) {
	s := &Store{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "policy", "file", opts.File)
	if s.opts.Debounce <= 0 {
		s.opts.Debounce = 250 * time.Millisecond
	}
	if s.opts.Resync == 0 {
		s.opts.Resync = time.Minute
	}
	if s.opts.Settle <= 0 {
		s.opts.Settle = 100 * time.Millisecond
	}
	if err := s.load("open"); err != nil {
		return nil, err
	}
	return s, nil
}

// Policy returns the policy serving now.
func (s *Store) Policy() *Policy { return s.current.Load() }

// Decide decides with the policy serving now; see Policy.Decide.
func (s *Store) Decide(subject Subject, action Action) Decision {
	return s.current.Load().Decide(subject, action)
}

// Roles returns subject's roles under the policy serving now.
func (s *Store) Roles(subject Subject) []string {
	return s.current.Load().Roles(subject)
}

// Reload loads the file again now (call it on SIGHUP), once it is complete
// (see ErrIncomplete). On success the new policy serves from the next
// decision on; on failure, an incomplete file included, the last good
// policy keeps serving, the failure is logged and counted, and the error
// is returned.
func (s *Store) Reload() error { return s.load("reload") }

// load makes one load attempt.
func (s *Store) load(trigger string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prev := s.current.Load()
	ev := ReloadEvent{Trigger: trigger, Revision: prev.Revision(), Previous: prev.Revision(),
		Hash: prev.ContentHash(), PreviousHash: prev.ContentHash()}
	p, err := s.read(trigger != "open")
	ev.At = time.Now()
	if err != nil && errors.Is(err, ErrIncomplete) && trigger != "reload" {
		// Watch tries again after Debounce; nothing failed yet.
		if !s.waiting.Swap(true) {
			s.log.Info("policy file is being written; the last good policy keeps serving until it is complete",
				"trigger", trigger, "revision", prev.Revision(), "policy_hash", prev.ContentHash(), "err", err)
		}
		return err
	}
	s.waiting.Store(false)
	if err != nil {
		s.failures.Add(1)
		s.lastErr.Store(&failure{msg: err.Error(), at: ev.At})
		if prev != nil {
			s.log.Error("policy reload failed; the last good policy keeps serving",
				"trigger", trigger, "revision", prev.Revision(), "err", err)
		}
		ev.Err = err
		s.notify(ev)
		return err
	}
	s.lastErr.Store(nil)
	if prev != nil && prev.hash == p.hash && prev.signedBy == p.signedBy {
		s.log.Debug("policy unchanged", "trigger", trigger, "revision", p.revision)
		s.notify(ev)
		return nil
	}
	s.current.Store(p)
	s.loadedAt.Store(ev.At.UnixNano())
	if prev != nil {
		s.reloads.Add(1)
	}
	ev.Revision, ev.Hash, ev.Changed = p.revision, p.ContentHash(), true
	c := p.Counts()
	s.log.Info("policy loaded", "trigger", trigger, "revision", p.revision, "previous", prev.Revision(),
		"policy_hash", p.ContentHash(), "previous_hash", prev.ContentHash(),
		"sha256", p.hash, "signed_by", p.signedBy, "roles", c.Roles, "bindings", c.Bindings, "deny", c.Deny, "tests", c.Tests)
	if prev != nil {
		if ev.Weakened = Weakened(prev, p); ev.Weakened != nil {
			s.log.Warn("policy reload removed deny rules or tests", "trigger", trigger,
				"revision", p.revision, "policy_hash", p.ContentHash(), "previous", prev.Revision(), "previous_hash", prev.ContentHash(),
				"removed_deny", ev.Weakened.Deny, "removed_tests", ev.Weakened.Tests, "diff", ev.Weakened.Diff)
		}
	}
	for _, w := range p.warnings {
		s.log.Warn("policy warning", "warning", w.Error())
	}
	s.notify(ev)
	return nil
}

// read loads the file with every check the options ask for; complete
// waits until the file is complete (readComplete).
func (s *Store) read(complete bool) (*Policy, error) {
	opts := LoadOptions{RequireSignature: s.opts.RequireSignature, RunTests: true}
	if s.opts.RequireSignature {
		keys, err := LoadTrustedKeys(s.opts.TrustedKeyFiles)
		if err != nil {
			return nil, err
		}
		opts.TrustedKeys = keys
	}
	if !complete {
		return Load(s.opts.File, opts)
	}
	data, err := s.readComplete()
	if err != nil {
		return nil, err
	}
	return loadData(s.opts.File, data, opts)
}

func (s *Store) notify(ev ReloadEvent) {
	if s.opts.OnReload != nil {
		s.opts.OnReload(ev)
	}
}

// Status returns the Store's state.
func (s *Store) Status() Status {
	p := s.current.Load()
	st := Status{
		File:     s.opts.File,
		Revision: p.revision,
		Hash:     p.hash,
		SignedBy: p.signedBy,
		LoadedAt: time.Unix(0, s.loadedAt.Load()),
		Reloads:  s.reloads.Load(),
		Failures: s.failures.Load(),
	}
	if f := s.lastErr.Load(); f != nil {
		st.LastError, st.LastErrorAt = f.msg, f.at
	}
	return st
}
