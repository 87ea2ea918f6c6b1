package certs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch follows changes to the registry directory and its revoked/
// subdirectory with fsnotify, and reloads after each burst of changes (at
// most Options.Debounce after the first event), every Options.Resync, and
// when Lookup finds a file gone or changed. Each reload builds a fresh state
// and swaps it in whole; a directory that is gone binds nothing until it
// is back, one that cannot be read leaves the last good state in place (see
// Reload). Watch blocks until ctx is done, then
// returns nil; it returns an error only if the watcher cannot be created or
// stops unexpectedly. Run at most one Watch per Registry.
func (r *Registry) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("certs: watch %q: %w", r.dir, err)
	}
	defer w.Close()
	r.addWatches(w)
	// Changes made before the watches were in place are read now.
	_ = r.Reload()

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	pending := false
	schedule := func() {
		if !pending {
			pending = true
			debounce.Reset(r.debounce)
		}
	}
	var resync <-chan time.Time
	if r.resync > 0 {
		t := time.NewTicker(r.resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case <-ctx.Done():
			debounce.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("certs: watch %q: watcher closed", r.dir)
			}
			if r.relevant(ev) {
				schedule()
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("certs: watch %q: watcher closed", r.dir)
			}
			// An overflow means lost events: read everything again.
			r.log.Warn("key registry watcher error; reloading", "err", err)
			schedule()
		case <-r.kick:
			schedule()
		case <-debounce.C:
			pending = false
			r.addWatches(w)
			_ = r.Reload()
		case <-resync:
			r.addWatches(w)
			_ = r.Reload()
		}
	}
}

// Start runs Watch in a goroutine until Close. It fails if the registry is
// already being watched through Start.
func (r *Registry) Start() error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.stop != nil {
		return fmt.Errorf("certs: watch %q: already started", r.dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r.stop, r.done = cancel, done
	go func() { done <- r.Watch(ctx) }()
	return nil
}

// Close stops the watcher started by Start and returns its error, if any.
// It is safe to call without Start and more than once; Lookup keeps
// working on the last state after Close.
func (r *Registry) Close() error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.stop == nil {
		return nil
	}
	r.stop()
	err := <-r.done
	r.stop, r.done = nil, nil
	return err
}

// relevant reports whether an event may change the registry: one on a
// watched directory itself (moved away, replaced, its mode changed) or on
// a "*.key" file is — a chmod too, as a file others may write is refused;
// temporary files (dotfiles) and editor backups are not.
func (r *Registry) relevant(ev fsnotify.Event) bool {
	name, dir := filepath.Clean(ev.Name), filepath.Clean(r.dir)
	if name == dir {
		return true
	}
	if filepath.Dir(name) == filepath.Dir(dir) {
		return false // another entry of the parent directory
	}
	base := filepath.Base(name)
	if base == RevokedDir {
		return true
	}
	load, _ := isCandidate(base)
	return load
}

// addWatches (re)watches the directory, its parent (to see the directory
// moved away and back) and revoked/, which may have been created, removed
// or replaced since the last call. A directory that is missing is not an
// error here; the reload reports it.
func (r *Registry) addWatches(w *fsnotify.Watcher) {
	for _, d := range []string{filepath.Dir(filepath.Clean(r.dir)), r.dir, filepath.Join(r.dir, RevokedDir)} {
		if err := w.Add(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.Warn("key registry: cannot watch directory", "dir", d, "err", err)
		}
	}
}
