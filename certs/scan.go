package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	// revoked maps a revoked key to its file under revoked/.
	revoked map[PublicKey]string
	// problems lists files that were skipped and why, plus secret files
	// found in the directory.
	problems []error
	// skipped counts *.key files that were not loaded.
	skipped int
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
// fine); problems with single files are collected in the result.
func scanDir(dir string) (*scanResult, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("certs: read registry %q: %w", dir, err)
	}
	res := &scanResult{revoked: map[PublicKey]string{}}
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
func scanRevoked(rdir string, res *scanResult) error {
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
		if prev, ok := res.revoked[c.Public]; !ok || path < prev {
			res.revoked[c.Public] = path
		}
	}
	return nil
}

// state is one immutable snapshot of a registry, swapped in whole.
type state struct {
	byKey     map[PublicKey]loadedBinding
	conflicts map[PublicKey][]string
	revoked   map[PublicKey]string
	problems  []error
	skipped   int
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
		case res.revoked[b.Key] != "":
			s.problems = append(s.problems, fmt.Errorf("certs: %s: key %s is revoked (%s); not trusted", b.File, b.Key.Fingerprint(), res.revoked[b.Key]))
		default:
			s.byKey[b.Key] = b
		}
	}
	return s
}
