package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch follows changes to the policy file and reloads after each burst
// of changes, once no event has arrived for Debounce (or at most 10 times
// Debounce after the first event), and every Resync. A reload reads only a
// complete file (see ErrIncomplete): while another process holds the file
// open for writing, or its bytes change within Settle, the last good
// policy keeps serving and Watch tries again every Debounce. It watches the
// file's directory rather than the file, so that every way of replacing a
// file is seen: editors that write in place or save through a temporary
// file and a rename, atomic renames, and the symlink swap of a mounted
// Kubernetes ConfigMap ("..data" re-pointed to a new directory). When the
// file is a symlink, the directory of its target is watched too. Every
// reload is a full load (see Reload); an invalid file leaves the last
// good policy serving, and the next event or resync tries
// again. Watch blocks until ctx is done, then returns nil; it returns an
// error only if the watcher cannot be created or stops unexpectedly. Run
// at most one Watch per Store.
func (s *Store) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("policy: watch %s: %w", s.opts.File, err)
	}
	defer w.Close()
	ws := s.addWatches(w)
	// Changes made before the watches were in place are read now.
	_ = s.load("watch")

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // first event of the pending burst; zero when none
	schedule := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		wait := s.opts.Debounce
		if left := first.Add(10 * s.opts.Debounce).Sub(now); left < wait {
			wait = max(left, 0)
		}
		timer.Reset(wait)
	}
	var resync <-chan time.Time
	if s.opts.Resync > 0 {
		t := time.NewTicker(s.opts.Resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("policy: watch %s: watcher closed", s.opts.File)
			}
			if ws.relevant(ev) {
				schedule()
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("policy: watch %s: watcher closed", s.opts.File)
			}
			s.log.Warn("policy watcher error; reloading", "err", err)
			schedule()
		case <-timer.C:
			first = time.Time{}
			ws = s.addWatches(w)
			s.loadOrRetry("watch", timer)
		case <-resync:
			ws = s.addWatches(w)
			s.loadOrRetry("resync", timer)
		}
	}
}

// loadOrRetry loads, and when the file is incomplete (still open for
// writing, or changing) tries again after Debounce: closing a file sends
// no event, so the retry is what loads a file whose writer paused before
// closing it.
func (s *Store) loadOrRetry(trigger string, timer *time.Timer) {
	if err := s.load(trigger); errors.Is(err, ErrIncomplete) {
		timer.Reset(s.opts.Debounce)
	}
}

// watchSet is what Watch watches.
type watchSet struct {
	names map[string]bool // base names whose events matter
	dirs  map[string]bool // watched directories
}

// relevant reports whether an event may change the policy: any event but
// a chmod on the file, its signature, its symlink target or Kubernetes'
// "..data", or on a watched directory itself (removed or replaced).
func (ws watchSet) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if ws.dirs[name] {
		return true
	}
	return ev.Op != fsnotify.Chmod && ws.names[filepath.Base(name)]
}

// addWatches (re)watches the file's directory and, when the file is a
// symlink, its target's directory; either may have been replaced since
// the last call. A missing directory is not an error here: the reload
// reports the missing file.
func (s *Store) addWatches(w *fsnotify.Watcher) watchSet {
	file := filepath.Clean(s.opts.File)
	paths := []string{file}
	if target, err := filepath.EvalSymlinks(file); err == nil && target != file {
		paths = append(paths, target)
	}
	ws := watchSet{names: map[string]bool{"..data": true}, dirs: map[string]bool{}}
	for _, p := range paths {
		base, dir := filepath.Base(p), filepath.Dir(p)
		ws.names[base], ws.names[base+".sig"], ws.dirs[dir] = true, true, true
		if err := w.Add(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("policy: cannot watch directory", "dir", dir, "err", err)
		}
	}
	return ws
}

// Start runs Watch in a goroutine until Close.
func (s *Store) Start() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.stop != nil {
		return fmt.Errorf("policy: watch %s: already started", s.opts.File)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s.stop, s.done = cancel, done
	go func() { done <- s.Watch(ctx) }()
	return nil
}

// Close stops the watcher started by Start and returns its error, if any.
// It is safe to call without Start and more than once; the Store keeps
// deciding with its last policy after Close.
func (s *Store) Close() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.stop == nil {
		return nil
	}
	s.stop()
	err := <-s.done
	s.stop, s.done = nil, nil
	return err
}
