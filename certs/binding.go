package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zapgate/zapgate/internal/strictmode"
)

// Metadata names a registry file uses.
const (
	// MetaPrincipal is the required principal the key is bound to.
	MetaPrincipal = "principal"
	// MetaSource is an optional free-form origin of the binding (a
	// ticket, an enrollment request).
	MetaSource = "source"
	// MetaExpires is an optional expiry: RFC 3339, or YYYY-MM-DD (see
	// ParseExpires).
	MetaExpires = "expires"
	// MetaNote is an optional free-form note.
	MetaNote = "note"
	// MetaAdded is when AddCert wrote the file (RFC 3339, informational).
	MetaAdded = "added"
	// MetaAddedBy is who made the binding, as the writer claims it (the
	// OS user of `zapgate keys add`, the approvers of an enrollment); the
	// broker's audit record of the change names it.
	MetaAddedBy = "added-by"
	// MetaRevoked is when RevokeWith moved the file into revoked/ (RFC 3339).
	MetaRevoked = "revoked"
	// MetaRevokedBy is who revoked the binding, as RevokeWith's caller
	// claims it.
	MetaRevokedBy = "revoked-by"
)

// Binding ties a public key to a principal, as read from one registry file.
type Binding struct {
	// Key is the bound public key.
	Key PublicKey
	// Principal is the identity the key authenticates as.
	Principal string
	// Source is the optional origin of the binding.
	Source string
	// Note is an optional free-form note.
	Note string
	// Expires is when the binding stops being valid; the zero time means
	// never. The key is refused from this instant on.
	Expires time.Time
	// File is the path of the registry file.
	File string
	// AddedBy is the "added-by" stamp: who made the binding (empty when
	// the file has none, e.g. one written by hand).
	AddedBy string
	// RevokedBy is the "revoked-by" stamp of a file in revoked/.
	RevokedBy string
	// Owner is the user id owning the file (-1 when unknown).
	Owner int
}

// Expired reports whether b has an expiry and now is at or after it.
func (b Binding) Expired(now time.Time) bool {
	return !b.Expires.IsZero() && !now.Before(b.Expires)
}

// ParseExpires parses an expires value: an RFC 3339 timestamp is the instant
// the binding expires; a date YYYY-MM-DD means the binding is valid through
// the end of that day in UTC, so it expires at 00:00:00 UTC the next day.
func ParseExpires(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	return time.Time{}, fmt.Errorf("certs: expires %q: want an RFC 3339 timestamp (2026-11-25T18:00:00Z) or a date (2026-11-25)", s)
}

// validPrincipal returns a message when p cannot be a principal.
func validPrincipal(p string) string {
	switch {
	case p == "":
		return "empty principal"
	case strings.TrimSpace(p) != p:
		return fmt.Sprintf("principal %q has leading or trailing blanks", p)
	}
	if _, err := quoteValue(p); err != nil {
		return fmt.Sprintf("principal: %v", err)
	}
	return ""
}

// loadedBinding is a Binding with the identity of the file it came from,
// so a Lookup can tell whether the file changed since it was read.
type loadedBinding struct {
	Binding
	info fs.FileInfo
}

// loadBinding reads and validates one registry file. It refuses, with an
// error wrapping ErrUntrusted, a file that another user may change (see
// strictmode.Trusted) and a symbolic link that leaves the file's directory:
// the file is opened through an os.Root on that directory, which follows
// no link out of it.
func loadBinding(path string) (loadedBinding, error) {
	data, info, err := readTrusted(path)
	if err != nil {
		return loadedBinding{}, err
	}
	c, err := ParseCert(path, data)
	if err != nil {
		return loadedBinding{}, err
	}
	b, err := bindingFromCert(path, c)
	if err != nil {
		return loadedBinding{}, err
	}
	b.Owner = -1
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		b.Owner = int(st.Uid)
	}
	return loadedBinding{Binding: b, info: info}, nil
}

// readTrusted reads the registry file at path through an os.Root on its
// directory and refuses it unless strictmode.Trusted accepts it.
func readTrusted(path string) ([]byte, fs.FileInfo, error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: load %q: %w", path, err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if lfi, lerr := root.Lstat(name); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 && !errors.Is(err, fs.ErrNotExist) {
			target, _ := os.Readlink(path)
			return nil, nil, fmt.Errorf("certs: registry file refused: %s: symbolic link to %q leaves the registry directory (%w)", path, target, ErrUntrusted)
		}
		return nil, nil, fmt.Errorf("certs: load %q: %w", path, err)
	}
	defer f.Close()
	data, info, err := readOpened(f, func(fi fs.FileInfo) error { return strictmode.Trusted(path, fi) })
	if err != nil {
		if errors.Is(err, ErrUntrusted) {
			return nil, nil, fmt.Errorf("certs: registry file refused: %w", err)
		}
		return nil, nil, fmt.Errorf("certs: load %q: %w", path, err)
	}
	return data, info, nil
}

// bindingFromCert checks a parsed registry file and returns its binding.
func bindingFromCert(path string, c *Cert) (Binding, error) {
	fail := func(msg string) error { return &ParseError{File: path, Msg: msg} }
	if c.Secret != nil {
		return Binding{}, fail("holds a secret key: registry files must be public certificates (use zapgate keys add, which copies only the public key)")
	}
	b := Binding{Key: c.Public, File: path}
	b.Principal, _ = c.Metadata.Get(MetaPrincipal)
	if msg := validPrincipal(b.Principal); msg != "" {
		return Binding{}, fail("metadata principal: " + msg)
	}
	b.Source, _ = c.Metadata.Get(MetaSource)
	b.Note, _ = c.Metadata.Get(MetaNote)
	b.AddedBy, _ = c.Metadata.Get(MetaAddedBy)
	b.RevokedBy, _ = c.Metadata.Get(MetaRevokedBy)
	if s, ok := c.Metadata.Get(MetaExpires); ok {
		t, err := ParseExpires(s)
		if err != nil {
			return Binding{}, &ParseError{File: path, Msg: "metadata expires", Err: err}
		}
		b.Expires = t
	}
	return b, nil
}
