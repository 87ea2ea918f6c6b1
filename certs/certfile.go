package certs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zapgate/zapgate/internal/strictmode"
)

// maxCertFileSize bounds how much of a certificate file is read: real
// certificates are a few hundred bytes.
const maxCertFileSize = 64 << 10

// ErrInsecureMode is wrapped by LoadSecret's error for a secret file that
// group or others may access. It is strictmode.ErrAccessible, the one
// check every secret file of zapgate goes through.
var ErrInsecureMode = strictmode.ErrAccessible

// ErrUntrusted is wrapped by the error of a registry file or directory
// that is refused because another user may change it: writable by group
// or others, owned by a user other than the broker's or root, or a
// symbolic link that leaves the registry directory (see docs/security.md).
var ErrUntrusted = strictmode.ErrUntrusted

// ErrNoSecret is wrapped by LoadSecret's error for a file that holds no
// secret key (a public certificate).
var ErrNoSecret = errors.New("file has no secret key")

// readCertFile reads a certificate file, refusing anything but a regular
// file of at most maxCertFileSize bytes, and returns the opened file's
// information too. check, if not nil, inspects the opened file's mode before
// any byte is read.
func readCertFile(path string, check func(fs.FileInfo) error) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readOpened(f, check)
}

// readOpened is readCertFile for a file already opened.
func readOpened(f *os.File, check func(fs.FileInfo) error) ([]byte, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file (mode %s)", fi.Mode())
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCertFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxCertFileSize {
		return nil, nil, fmt.Errorf("larger than %d bytes: not a certificate", maxCertFileSize)
	}
	return data, fi, nil
}

// LoadPublic loads the certificate file at path and returns its public part:
// the public key and metadata. It accepts a public file or a secret file;
// the secret key of a secret file is never returned (Secret is nil).
func LoadPublic(path string) (*Cert, error) {
	data, _, err := readCertFile(path, nil)
	if err != nil {
		return nil, fmt.Errorf("certs: load %q: %w", path, err)
	}
	c, err := ParseCert(path, data)
	if err != nil {
		return nil, err
	}
	c.Secret = nil
	return c, nil
}

// LoadSecret loads a secret certificate file (NAME.key_secret). It refuses a
// file that group or others may read or write (mode & 0o077 != 0; the error
// wraps ErrInsecureMode and names the fix, chmod 600) before reading it, and
// a file without a secret key (the error wraps ErrNoSecret).
func LoadSecret(path string) (*Cert, error) {
	data, _, err := readCertFile(path, func(fi fs.FileInfo) error {
		return strictmode.Secret(path, fi)
	})
	if err != nil {
		return nil, fmt.Errorf("certs: load secret %q: %w", path, err)
	}
	c, err := ParseCert(path, data)
	if err != nil {
		return nil, err
	}
	if c.Secret == nil {
		hint := ""
		if !strings.HasSuffix(path, "_secret") {
			hint = fmt.Sprintf(" (is it the public certificate? the secret one is %s_secret)", path)
		}
		return nil, fmt.Errorf("certs: load secret %q: %w%s", path, ErrNoSecret, hint)
	}
	return c, nil
}

// Save writes the certificate as CZMQ's zcert_save does: the public file
// dir/name.key (mode 0644) and the secret file dir/name.key_secret (mode
// 0600 or narrower, per the umask). name must be a plain file name (see
// validFileName). Each file is written to a temporary file created
// exclusively with mode 0600, synced, then linked into place, so readers
// never see a partial file; an existing file is never overwritten (the error
// wraps fs.ErrExist). If the public file cannot be written, the secret file
// just written is removed.
func (c *Cert) Save(dir, name string) (publicPath, secretPath string, err error) {
	if msg := validFileName(name); msg != "" {
		return "", "", fmt.Errorf("certs: save %q: %s", name, msg)
	}
	secret, err := c.MarshalSecret()
	if err != nil {
		return "", "", err
	}
	public, err := c.MarshalPublic()
	if err != nil {
		return "", "", err
	}
	publicPath = filepath.Join(dir, name+".key")
	secretPath = publicPath + "_secret"
	if _, err := os.Lstat(publicPath); err == nil {
		return "", "", fmt.Errorf("certs: save %q: %w (refusing to overwrite)", publicPath, fs.ErrExist)
	}
	if err := writeNewFile(secretPath, secret, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNewFile(publicPath, public, 0o644); err != nil {
		_ = os.Remove(secretPath)
		return "", "", err
	}
	return publicPath, secretPath, nil
}

// SavePublic writes the public certificate file (never the secret key) to
// path with mode 0644, with the same safe create as Save; an existing file
// is never overwritten (the error wraps fs.ErrExist).
func (c *Cert) SavePublic(path string) error {
	data, err := c.MarshalPublic()
	if err != nil {
		return err
	}
	return writeNewFile(path, data, 0o644)
}

// validFileName returns a message when name is not a plain, visible file
// name of letters, digits, '.', '_', '-', '@' and '$' (so it cannot escape
// its directory or hide as a dotfile), or "" when it is.
func validFileName(name string) string {
	if name == "" {
		return "empty name"
	}
	if name[0] == '.' || name[0] == '-' {
		return "name must not start with '.' or '-'"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-@$", c) >= 0) {
			return fmt.Sprintf("invalid character %q in name (allowed: letters, digits and ._-@$)", c)
		}
	}
	if len(name) > 200 {
		return "name longer than 200 characters"
	}
	return ""
}

// writeNewFile writes data to path without ever exposing a partial file or
// replacing an existing one: it creates a hidden temporary file beside path
// with O_EXCL and mode 0600, writes and syncs it, sets perm (only ever
// narrowing from 0600 for secrets), links it to path (link fails if path
// exists) and removes the temporary name.
func writeNewFile(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("certs: save %q: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // the data lives on under path, or not at all
	}()
	if perm != 0o600 {
		if err := tmp.Chmod(perm); err != nil {
			return fmt.Errorf("certs: save %q: %w", path, err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("certs: save %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("certs: save %q: %w", path, err)
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return fmt.Errorf("certs: save %q: %w", path, err)
	}
	if err := linkNoClobber(tmpName, path); err != nil {
		return fmt.Errorf("certs: save %q: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// linkNoClobber makes newPath name the file at oldPath, failing with an
// error that wraps fs.ErrExist when newPath exists. It uses a hard link,
// which is atomic and never replaces; on a file system without hard links it
// falls back to a check followed by rename.
func linkNoClobber(oldPath, newPath string) error {
	err := os.Link(oldPath, newPath)
	if err == nil || errors.Is(err, fs.ErrExist) {
		if err != nil {
			return fmt.Errorf("%w (refusing to overwrite)", fs.ErrExist)
		}
		return nil
	}
	if _, statErr := os.Lstat(newPath); statErr == nil {
		return fmt.Errorf("%w (refusing to overwrite)", fs.ErrExist)
	}
	return os.Rename(oldPath, newPath)
}

// syncDir flushes a directory entry change to disk; errors are ignored as
// some file systems cannot sync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
