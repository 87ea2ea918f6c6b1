package static

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/zapgate/zapgate/idp"
)

// Options configure a static Directory.
type Options struct {
	// Logger receives reload results (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock for Identity.FetchedAt (nil: time.Now).
	Now func() time.Time
	// Debounce is how long the watcher waits for a burst of file events to
	// settle before reloading (default 100ms).
	Debounce time.Duration
}

// Status describes the directory's load state.
type Status struct {
	// Principals is the number of principals currently served.
	Principals int
	// Loads counts successful loads; Failures counts rejected reloads.
	Loads, Failures uint64
	// LastError is the most recent reload failure, or nil after a good load.
	LastError error
	// LoadedAt is when the current version was loaded.
	LoadedAt time.Time
}

// Directory is an idp.Directory backed by a YAML file.
type Directory struct {
	path     string
	log      *slog.Logger
	now      func() time.Time
	debounce time.Duration

	current  atomic.Pointer[map[string]entry]
	mu       sync.Mutex // serializes reloads; guards status and sum
	status   Status
	sum      [32]byte // of the file content serving now
	stop     chan struct{}
	done     chan struct{}
	closeOne sync.Once
}

var _ idp.Directory = (*Directory)(nil)

// Open loads the file at path; it fails when the file is missing or
// invalid. Call Start to follow changes.
func Open(path string, opts Options) (*Directory, error) {
	d := &Directory{path: path, log: opts.Logger, now: opts.Now, debounce: opts.Debounce}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "idp", "directory", "static", "file", path)
	if d.now == nil {
		d.now = time.Now
	}
	if d.debounce <= 0 {
		d.debounce = 100 * time.Millisecond
	}
	if err := d.Reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// Lookup returns the principal's identity, or an error wrapping
// idp.ErrNotFound when the file does not list it.
func (d *Directory) Lookup(_ context.Context, principal string) (idp.Identity, error) {
	m := *d.current.Load()
	e, ok := m[principal]
	if !ok {
		return idp.Identity{}, fmt.Errorf("static: %q: %w", principal, idp.ErrNotFound)
	}
	return idp.Identity{
		Principal:   principal,
		DisplayName: e.display,
		Groups:      append([]string(nil), e.groups...),
		Enabled:     e.enabled,
		Source:      "static",
		FetchedAt:   d.now(),
	}, nil
}

// Reload reads the file again. On any error the previous version keeps
// serving, and the error is logged, counted and returned.
func (d *Directory) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, err := os.ReadFile(d.path)
	sum := sha256.Sum256(data)
	if err == nil && d.current.Load() != nil && sum == d.sum {
		d.status.LastError = nil
		return nil // unchanged
	}
	var m map[string]entry
	if err == nil {
		m, err = parse(d.path, data)
	} else {
		err = fmt.Errorf("static: %w", err)
	}
	if err != nil {
		d.status.Failures++
		d.status.LastError = err
		if d.current.Load() != nil {
			d.log.Error("directory reload failed; keeping the last good version", "error", err)
		}
		return err
	}
	d.current.Store(&m)
	d.sum = sum
	d.status.Loads++
	d.status.LastError = nil
	d.status.Principals = len(m)
	d.status.LoadedAt = d.now()
	d.log.Info("directory loaded", "principals", len(m))
	return nil
}

// Status returns the load state.
func (d *Directory) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// Start watches the file's directory (so editor saves, atomic renames and
// symlink swaps are all seen) and reloads after changes settle.
func (d *Directory) Start() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("static: watch: %w", err)
	}
	if err := w.Add(filepath.Dir(d.path)); err != nil {
		w.Close()
		return fmt.Errorf("static: watch %s: %w", filepath.Dir(d.path), err)
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.watch(w)
	return nil
}

func (d *Directory) watch(w *fsnotify.Watcher) {
	defer close(d.done)
	defer w.Close()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-d.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if !d.relevant(ev.Name) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(d.debounce)
			} else {
				timer.Reset(d.debounce)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			d.log.Warn("directory watch error", "error", err)
		case <-fire:
			fire = nil
			_ = d.Reload()
		}
	}
}

// relevant reports whether an event in the watched directory may change
// the file: the file itself, or a Kubernetes ConfigMap style "..data"
// symlink swap. Events of other files (logs, audit segments beside the
// file) are ignored.
func (d *Directory) relevant(name string) bool {
	base := filepath.Base(name)
	return base == filepath.Base(d.path) || strings.HasPrefix(base, "..")
}

// Close stops the watcher; it is safe to call more than once.
func (d *Directory) Close() error {
	d.closeOne.Do(func() {
		if d.stop != nil {
			close(d.stop)
			<-d.done
		}
	})
	return nil
}
