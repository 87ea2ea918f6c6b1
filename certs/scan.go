package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zapgate/zapgate/internal/strictmode"
)

// RevokedDir is the subdirectory of a registry directory that holds revoked
// certificate files. A key found there is refused even if a file in the
// registry directory still binds it.
const RevokedDir = "revoked"

// scanResult is everything read from a registry directory in one pass.
type scanResult struct {
	// bindings holds every valid binding, including keys bound twice and
	// revoked keys; buildState decides what is trusted.
	bindings []loadedBinding
	// revoked maps a revoked key to what its file under revoked/ says
	// (File, and Principal and RevokedBy when the file has them).
	revoked map[PublicKey]Binding
	// problems lists files that were skipped and why, plus secret files
	// found in the directory.
	problems []error
	// skipped counts *.key files that were not loaded.
	skipped int
	// refused counts the skipped files refused as untrusted (ErrUntrusted).
	refused int
	// files maps each skipped file to why it was skipped.
	files map[string]string
	// dirErr is set when the registry directory or revoked/ is untrusted:
	// then no key is bound at all.
	dirErr error
}

// isCandidate classifies a directory entry name: load reports a file to
// read as a binding; secret reports a secret certificate that must not be
// in the directory. Dotfiles (including the temporary files this package
// writes), editor backups and anything not ending in ".key" are neither.
func isCandidate(name string) (load, secret bool) {
	switch {
	case name == "" || name[0] == '.' || name[0] == '#' || strings.HasSuffix(name, "~"):
		return false, false
	case strings.HasSuffix(name, "_secret"):
		return false, true
	}
	return strings.HasSuffix(name, ".key") && len(name) > len(".key"), false
}

// scanDir reads the registry directory dir and its revoked/ subdirectory.
// It fails only when a directory cannot be read (a missing revoked/ is
// fine; a missing dir fails with an error wrapping fs.ErrNotExist);
// problems with single files are collected in the result. A registry
// directory (or an ancestor, or revoked/) that another user may change is
// not a failure but sets dirErr: nothing in it can be trusted.
func scanDir(dir string) (*scanResult, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("certs: read registry %q: %w", dir, err)
	}
	res := &scanResult{revoked: map[PublicKey]Binding{}, files: map[string]string{}}
	if err := strictmode.TrustedDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("certs: read registry %q: %w", dir, err)
		}
		res.dirErr = fmt.Errorf("certs: registry directory refused, no key is bound: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // revoked/ is read below; other directories are ignored
		}
		load, secret := isCandidate(e.Name())
		path := filepath.Join(dir, e.Name())
		if secret {
			res.problems = append(res.problems, fmt.Errorf("certs: %s: secret certificate in the registry directory ignored; move it elsewhere", path))
			continue
		}
		if !load {
			continue
		}
		b, err := loadBinding(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			res.problems = append(res.problems, err)
			res.skipped++
			res.files[path] = err.Error()
			if errors.Is(err, ErrUntrusted) {
				res.refused++
			}
			continue
		}
		res.bindings = append(res.bindings, b)
	}
	if err := scanRevoked(filepath.Join(dir, RevokedDir), res); err != nil {
		return nil, err
	}
	return res, nil
}

// scanRevoked reads the keys of the revoked/ directory into res.revoked.
// A revoked/ that another user may change sets res.dirErr: revocations
// that someone else may undo cannot be relied on, so nothing is bound.
func scanRevoked(rdir string, res *scanResult) error {
	if fi, err := os.Lstat(rdir); err == nil {
		terr := strictmode.Trusted(rdir, fi)
		if fi.Mode()&fs.ModeSymlink != 0 {
			terr = fmt.Errorf("%s: a symbolic link (%w)", rdir, ErrUntrusted)
		}
		if terr != nil && res.dirErr == nil {
			res.dirErr = fmt.Errorf("certs: revoked keys directory refused, no key is bound: %w", terr)
		}
	}
	entries, err := os.ReadDir(rdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("certs: read revoked keys %q: %w", rdir, err)
	}
	for _, e := range entries {
		load, _ := isCandidate(e.Name())
		if e.IsDir() || !load {
			continue
		}
		path := filepath.Join(rdir, e.Name())
		c, err := LoadPublic(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				res.problems = append(res.problems, fmt.Errorf("certs: revoked key unreadable, cannot be enforced: %w", err))
			}
			continue
		}
		if prev, ok := res.revoked[c.Public]; !ok || path < prev.File {
			b := Binding{Key: c.Public, File: path, Owner: -1}
			b.Principal, _ = c.Metadata.Get(MetaPrincipal)
			b.RevokedBy, _ = c.Metadata.Get(MetaRevokedBy)
			res.revoked[c.Public] = b
		}
	}
	return nil
}

// state is one immutable snapshot of a registry, swapped in whole.
type state struct {
	byKey     map[PublicKey]loadedBinding
	conflicts map[PublicKey][]string
	revoked   map[PublicKey]Binding
	problems  []error
	skipped   int
	refused   int
	files     map[string]string // skipped or conflicting file → why
	dirErr    error             // registry untrusted: byKey is empty
	missing   bool              // registry directory gone: byKey is empty
}

// buildState decides what a scan trusts: a key bound by two or more files
// is trusted by none of them, and a revoked key is not trusted at all.
func buildState(res *scanResult) *state {
	s := &state{
		byKey:     make(map[PublicKey]loadedBinding, len(res.bindings)),
		conflicts: map[PublicKey][]string{},
		revoked:   res.revoked,
		problems:  slices.Clone(res.problems),
		skipped:   res.skipped,
		refused:   res.refused,
		files:     maps.Clone(res.files),
		dirErr:    res.dirErr,
	}
	if res.dirErr != nil {
		s.problems = append([]error{res.dirErr}, s.problems...)
		return s // nothing in an untrusted directory is bound
	}
	files := map[PublicKey][]string{}
	for _, b := range res.bindings {
		files[b.Key] = append(files[b.Key], b.File)
	}
	for _, b := range res.bindings {
		paths := files[b.Key]
		switch {
		case len(paths) > 1:
			if _, done := s.conflicts[b.Key]; !done {
				slices.Sort(paths)
				s.conflicts[b.Key] = paths
				s.problems = append(s.problems, fmt.Errorf("certs: key %s is bound by more than one file (%s); none of them is trusted", b.Key.Fingerprint(), strings.Join(paths, ", ")))
			}
			s.files[b.File] = "key " + b.Key.Fingerprint() + " is bound by more than one file"
		case res.revoked[b.Key].File != "":
			s.problems = append(s.problems, fmt.Errorf("certs: %s: key %s is revoked (%s); not trusted", b.File, b.Key.Fingerprint(), res.revoked[b.Key].File))
		default:
			s.byKey[b.Key] = b
		}
	}
	return s
}

// missingState is the state of a registry whose directory is gone: nothing
// is bound (fail closed) until it is back.
func missingState(dir string, err error) *state {
	return &state{
		byKey:     map[PublicKey]loadedBinding{},
		conflicts: map[PublicKey][]string{},
		revoked:   map[PublicKey]Binding{},
		files:     map[string]string{},
		missing:   true,
		problems:  []error{fmt.Errorf("certs: registry directory %s is gone; no key is bound until it is back: %w", dir, err)},
	}
}
