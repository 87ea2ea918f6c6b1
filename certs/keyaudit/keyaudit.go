// Package keyaudit writes an audit record for every change of the key
// registry that the broker observes: a binding added (keys.add), revoked
// (keys.revoke), changed (keys.change) or removed (keys.remove), and a
// file or the directory refused, missing or fixed (keys.error), each with
// the binding before and after and who made the change.
//
// The broker is the only writer of the audit log; `zapgate keys` runs in
// another process and only stamps who ran it into the file it writes
// (certs.MetaAddedBy, certs.MetaRevokedBy). An Auditor compares each load
// of the registry (certs.Options.OnLoad) with the last state it audited,
// which it keeps in a small JSON file, so changes made while the broker was
// down are audited at its next start. The state moves on only once every
// record of a change is durable; a failed append is retried at the next
// load (records may then repeat; receivers deduplicate on the content).
//
//	a, err := keyaudit.New(keyaudit.Options{Audit: log, StateFile: filepath.Join(cfg.Audit.Dir, keyaudit.StateFileName)})
//	reg, err := certs.Open(dir, certs.Options{OnLoad: a.Observe})
package keyaudit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
)

// Actions of registry changes ("event.action").
const (
	// ActionAdd: a key became bound (keys add, enrollment, a file copied
	// in, a refused file fixed).
	ActionAdd = audit.ActionKeysAdd
	// ActionRevoke: a bound key was revoked (moved into revoked/).
	ActionRevoke = audit.ActionKeysRevoke
	// ActionChange: a binding's principal, expiry, source or file changed,
	// or a revocation was undone (its file removed from revoked/).
	ActionChange = audit.ActionKeysChange
	// ActionRemove: a binding's file was removed without a revocation.
	ActionRemove = audit.ActionKeysRemove
	// ActionError: a file or the registry directory was refused or went
	// missing (outcome failure), or that problem ended (outcome success).
	ActionError = audit.ActionKeysError
)

// StateFileName is the name of the state file the broker keeps in the
// audit directory.
const StateFileName = "keys.state"

// Recorder writes an audit record durably; audit.Log implements it.
type Recorder interface {
	Append(ctx context.Context, rec audit.Record) (audit.Receipt, error)
}

// Options configure an Auditor.
type Options struct {
	// Audit receives the records. Required.
	Audit Recorder
	// StateFile keeps the last audited registry state across restarts.
	// Required; the broker uses keys.state in the audit directory.
	StateFile string
	// Logger receives failures; nil means slog.Default().
	Logger *slog.Logger
	// Wait bounds how long one record may take to become durable; 0
	// means 10 s.
	Wait time.Duration
}

// Auditor turns registry loads into audit records; see the package
// documentation. It is safe for concurrent use.
type Auditor struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex
	last *state // last audited; nil before the first record
}

// New returns an Auditor that continues from opts.StateFile. A missing
// file means nothing was audited yet: the first load records every binding
// it finds (reason "baseline"). An unreadable or corrupt file is an error.
func New(opts Options) (*Auditor, error) {
	if opts.Audit == nil || opts.StateFile == "" {
		return nil, errors.New("keyaudit: Audit and StateFile are required")
	}
	if opts.Wait <= 0 {
		opts.Wait = 10 * time.Second
	}
	a := &Auditor{opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("component", "keyaudit")
	data, err := os.ReadFile(opts.StateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("keyaudit: read %s: %w", opts.StateFile, err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil || s.Version != stateVersion {
		return nil, fmt.Errorf("keyaudit: %s is not a registry state (version %d): %v; move it away to record the registry afresh", opts.StateFile, s.Version, err)
	}
	a.last = &s
	return a, nil
}

// Observe audits the changes between snap and the last audited state and,
// once every record is durable, makes snap the last audited state. It
// fits certs.Options.OnLoad.
func (a *Auditor) Observe(snap certs.Snapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := fromSnapshot(snap, a.last)
	for _, rec := range diff(a.last, next) {
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.Wait)
		_, err := a.opts.Audit.Append(ctx, rec)
		cancel()
		if err != nil && !audit.MayProceed(err) {
			a.log.Error("registry change not audited; retried at the next reload", "event.action", rec.Action, "error", err)
			return
		}
	}
	if err := a.save(next); err != nil {
		a.log.Error("registry state not saved; changes may be audited again", "error", err)
	}
	a.last = next
}

// save writes s to the state file atomically (mode 0600).
func (a *Auditor) save(s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("keyaudit: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.opts.StateFile), ".keys.state-*")
	if err != nil {
		return fmt.Errorf("keyaudit: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("keyaudit: save: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keyaudit: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyaudit: save: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.opts.StateFile); err != nil {
		return fmt.Errorf("keyaudit: save: %w", err)
	}
	return nil
}
