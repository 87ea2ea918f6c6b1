package syslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Cursor is the last record the receiver is known to have. It is stored
// as one JSON object in the cursor file.
type Cursor struct {
	// Seq is the record's "audit.seq" (0: nothing forwarded yet).
	Seq uint64 `json:"audit.seq"`
	// Hash is its "audit.hash": forwarding resumes only after this very
	// record, so a replaced log is noticed.
	Hash string `json:"audit.hash,omitempty"`
	// ID is its "event.id".
	ID string `json:"event.id,omitempty"`
}

// ReadCursor reads a cursor file; a missing file is the zero Cursor.
func ReadCursor(path string) (Cursor, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("syslog: cursor: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return Cursor{}, fmt.Errorf("syslog: cursor %s: %w", path, err)
	}
	var c Cursor
	if err := json.Unmarshal(data, &c); err != nil {
		return Cursor{}, fmt.Errorf("syslog: cursor %s: %w", path, err)
	}
	if c.Seq > 0 && len(c.Hash) != 64 {
		return Cursor{}, fmt.Errorf("syslog: cursor %s: seq %d without a hash", path, c.Seq)
	}
	return c, nil
}

// WriteCursor replaces the cursor file atomically and durably.
func WriteCursor(path string, c Cursor) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("syslog: cursor: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("syslog: cursor: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("syslog: cursor %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syslog: cursor: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syslog: cursor: sync %s: %w", dir, err)
	}
	return nil
}
