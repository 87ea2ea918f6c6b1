package certs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrNotFound is wrapped by Find's and Revoke's error when no binding
// matches the selector.
var ErrNotFound = errors.New("no matching key binding")

// AddOptions are the optional parts of a binding written by AddCert.
type AddOptions struct {
	// Source is the origin of the binding (a ticket, an enrollment).
	Source string
	// Note is a free-form note.
	Note string
	// Expires is when the binding expires; the zero time means never.
	Expires time.Time
	// Name is the file name to write, without ".key"; empty means a safe
	// form of the principal (see SafeName).
	Name string
	// By is who makes the binding (the OS user of `zapgate keys add`, the
	// approvers of an enrollment), written as "added-by" so that the
	// broker's audit record of the change names it.
	By string
	// Now is the clock that stamps "added" and checks Expires; nil means
	// time.Now.
	Now func() time.Time
}

// AddCert binds the public key of the certificate at certPath (a public or
// a secret file; only the public key is used and a secret key is never
// written) to principal in the registry directory dir, which is created
// (mode 0755) if missing. It writes the public-only file dir/NAME.key and
// refuses to overwrite an existing file, or to bind a key that a file in
// dir already binds or that revoked/ holds, naming that file. An expiry
// that is not in the future and a registry directory that another user
// may change (ErrUntrusted) are refused too. The returned Binding is read
// back from the new file.
func AddCert(dir, certPath, principal string, opts AddOptions) (Binding, error) {
	if msg := validPrincipal(principal); msg != "" {
		return Binding{}, fmt.Errorf("certs: add %q: %s", certPath, msg)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if t := now(); !opts.Expires.IsZero() && !opts.Expires.After(t) {
		return Binding{}, fmt.Errorf("certs: add %q: expires %s is not in the future (now %s); the binding would be refused at once",
			certPath, opts.Expires.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	src, err := LoadPublic(certPath)
	if err != nil {
		return Binding{}, err
	}
	name := strings.TrimSuffix(opts.Name, ".key")
	if name == "" {
		name = SafeName(principal, src.Public)
	}
	if msg := validFileName(name); msg != "" {
		return Binding{}, fmt.Errorf("certs: add: file name %q: %s", name, msg)
	}
	c := &Cert{Public: src.Public}
	c.Metadata.Set(MetaPrincipal, principal)
	if opts.Source != "" {
		c.Metadata.Set(MetaSource, opts.Source)
	}
	if !opts.Expires.IsZero() {
		c.Metadata.Set(MetaExpires, opts.Expires.UTC().Format(time.RFC3339))
	}
	if opts.Note != "" {
		c.Metadata.Set(MetaNote, opts.Note)
	}
	c.Metadata.Set(MetaAdded, now().UTC().Format(time.RFC3339))
	if opts.By != "" {
		c.Metadata.Set(MetaAddedBy, opts.By)
	}
	if err := c.Metadata.Validate(); err != nil {
		return Binding{}, fmt.Errorf("certs: add %q: %w", certPath, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binding{}, fmt.Errorf("certs: add: %w", err)
	}
	res, err := scanDir(dir)
	if err != nil {
		return Binding{}, fmt.Errorf("certs: add: %w", err)
	}
	if res.dirErr != nil {
		return Binding{}, fmt.Errorf("certs: add: %w", res.dirErr)
	}
	for _, b := range res.bindings {
		if b.Key == src.Public {
			return Binding{}, fmt.Errorf("certs: add: key %s is already bound to %q by %s", src.Public.Fingerprint(), b.Principal, b.File)
		}
	}
	if rb, ok := res.revoked[src.Public]; ok {
		return Binding{}, fmt.Errorf("certs: add: key %s was revoked (%s); a revoked key cannot be bound again", src.Public.Fingerprint(), rb.File)
	}
	path := filepath.Join(dir, name+".key")
	if err := c.SavePublic(path); err != nil {
		return Binding{}, err
	}
	lb, err := loadBinding(path)
	if err != nil {
		return Binding{}, err
	}
	return lb.Binding, nil
}

// SafeName returns a file name (without ".key") derived from principal:
// lower case, every run of characters other than letters, digits, '.', '_',
// '-' and '@' replaced by '-', and '-' and '.' trimmed from both ends. When
// nothing is left, it is "key-" and the first 12 hex digits of the SHA-256
// of key.
func SafeName(principal string, key PublicKey) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(principal) {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-.")
	if len(name) > 100 {
		name = strings.Trim(name[:100], "-.")
	}
	if name == "" {
		sum := sha256.Sum256(key[:])
		name = "key-" + hex.EncodeToString(sum[:6])
	}
	return name
}

// List returns every valid binding in the registry directory dir, sorted by
// principal then file, including keys bound by more than one file and keys
// also found in revoked/ (which a Registry does not trust), and the
// problems found: skipped files, conflicts, revoked keys still present and
// secret files. The error list holds a single error when dir cannot be
// read.
func List(dir string) ([]Binding, []error) {
	res, err := scanDir(dir)
	if err != nil {
		return nil, []error{err}
	}
	s := buildState(res)
	out := make([]Binding, 0, len(res.bindings))
	for _, b := range res.bindings {
		out = append(out, b.Binding)
	}
	slices.SortFunc(out, func(a, b Binding) int {
		if c := strings.Compare(a.Principal, b.Principal); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
	return out, s.problems
}

// Find returns the one binding in the registry directory dir that selector
// names: a principal (exact, or else case-insensitive), a Z85 public key, a
// fingerprint (with or without "SHA256:"), or a file name (with or without
// ".key"). It fails with an error wrapping ErrNotFound when nothing matches,
// and with an error listing the files when several bindings match.
func Find(dir, selector string) (Binding, error) {
	res, err := scanDir(dir)
	if err != nil {
		return Binding{}, fmt.Errorf("certs: find %q: %w", selector, err)
	}
	var exact, folded []Binding
	for _, lb := range res.bindings {
		b := lb.Binding
		fp := b.Key.Fingerprint()
		base := filepath.Base(b.File)
		switch {
		case b.Principal == selector, b.Key.String() == selector,
			fp == selector, strings.TrimPrefix(fp, "SHA256:") == selector,
			base == selector, base == selector+".key":
			exact = append(exact, b)
		case strings.EqualFold(b.Principal, selector):
			folded = append(folded, b)
		}
	}
	matches := exact
	if len(matches) == 0 {
		matches = folded
	}
	switch len(matches) {
	case 0:
		return Binding{}, fmt.Errorf("certs: find %q in %s: %w", selector, dir, ErrNotFound)
	case 1:
		return matches[0], nil
	}
	files := make([]string, len(matches))
	for i, b := range matches {
		files[i] = filepath.Base(b.File)
	}
	slices.Sort(files)
	return Binding{}, fmt.Errorf("certs: find %q: %d bindings match (%s); select one by file name", selector, len(matches), strings.Join(files, ", "))
}

// RevokeOptions are the optional parts of RevokeWith.
type RevokeOptions struct {
	// By is who revokes (the OS user of `zapgate keys revoke`), written
	// as "revoked-by" into the file in revoked/ so that the broker's audit
	// record of the revocation names it.
	By string
	// Now is the clock that stamps "revoked"; nil means time.Now.
	Now func() time.Time
}

// Revoke is RevokeWith without options.
func Revoke(dir, selector string) (Binding, string, error) {
	return RevokeWith(dir, selector, RevokeOptions{})
}

// RevokeWith finds the binding selector names (see Find) and moves it into
// dir/revoked/ (created with mode 0755), so a Registry refuses the key
// from the next Lookup on: it writes the file's certificate there with
// "revoked" (the time) and "revoked-by" (opts.By) added to its metadata,
// then removes the original. If revoked/ already has a file of that name,
// a UTC timestamp is added to the new name. It returns the binding and the
// file's new path.
func RevokeWith(dir, selector string, opts RevokeOptions) (Binding, string, error) {
	b, err := Find(dir, selector)
	if err != nil {
		return Binding{}, "", err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	data, _, err := readTrusted(b.File)
	if err != nil {
		return Binding{}, "", fmt.Errorf("certs: revoke: %w", err)
	}
	c, err := ParseCert(b.File, data)
	if err != nil {
		return Binding{}, "", fmt.Errorf("certs: revoke: %w", err)
	}
	at := now().UTC()
	c.Metadata.Set(MetaRevoked, at.Format(time.RFC3339))
	if opts.By != "" {
		c.Metadata.Set(MetaRevokedBy, opts.By)
	}
	if err := c.Metadata.Validate(); err != nil {
		return Binding{}, "", fmt.Errorf("certs: revoke %s: %w", b.File, err)
	}
	rdir := filepath.Join(dir, RevokedDir)
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return Binding{}, "", fmt.Errorf("certs: revoke %s: %w", b.File, err)
	}
	base := strings.TrimSuffix(filepath.Base(b.File), ".key")
	stamp := at.Format("20060102T150405Z")
	for i := 0; ; i++ {
		name := base + ".key"
		switch {
		case i == 1:
			name = base + "." + stamp + ".key"
		case i > 1:
			name = fmt.Sprintf("%s.%s-%d.key", base, stamp, i)
		}
		dst := filepath.Join(rdir, name)
		err := c.SavePublic(dst)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return Binding{}, "", fmt.Errorf("certs: revoke %s: %w", b.File, err)
		}
		if err := os.Remove(b.File); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Binding{}, "", fmt.Errorf("certs: revoke %s: copied to %s but cannot remove: %w", b.File, dst, err)
		}
		syncDir(dir)
		return b, dst, nil
	}
}
