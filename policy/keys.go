package policy

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/zapgate/zapgate/internal/edkey"
	"io"
	"os"
	"path/filepath"
)

// Signing keys are ed25519 keys in PEM files, the formats OpenSSL uses
// ("openssl genpkey -algorithm ed25519" and "openssl pkey -pubout"), so a
// security team can make and hold them with the tools it already has:
//
//   - NAME.pub: "-----BEGIN PUBLIC KEY-----", a PKIX SubjectPublicKeyInfo;
//   - NAME.secret: "-----BEGIN PRIVATE KEY-----", a PKCS #8 private key,
//     mode 0600. A secret key file that group or others may read or write
//     is refused (ErrInsecureMode).
//
// Text before the PEM block (a comment line) is ignored.

// maxKeyFile bounds a key file.
const maxKeyFile = 64 << 10

// PublicKey is a trusted policy-signing key.
type PublicKey struct {
	// Key is the ed25519 public key.
	Key ed25519.PublicKey
	// ID is the key's ID, see KeyID.
	ID string
	// File is the file the key was read from, or "".
	File string
}

// KeyID returns the ID of a signing key: "SHA256:" and the first 16
// characters of the unpadded standard base64 of the SHA-256 of the 32 raw
// key bytes. Signature files name their key by this ID.
func KeyID(pub ed25519.PublicKey) string { return edkey.KeyID(pub) }

// ParsePublicKey parses a PEM "PUBLIC KEY" block holding an ed25519 key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(`no "PUBLIC KEY" PEM block`)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return pub, nil
}

// LoadPublicKey reads a trusted public key file.
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := readLimited(path, maxKeyFile)
	if err != nil {
		return PublicKey{}, fmt.Errorf("policy: public key %s: %w", path, err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("policy: public key %s: %w", path, err)
	}
	return PublicKey{Key: pub, ID: KeyID(pub), File: path}, nil
}

// LoadTrustedKeys reads every public key file in paths.
func LoadTrustedKeys(paths []string) ([]PublicKey, error) {
	out := make([]PublicKey, 0, len(paths))
	for _, p := range paths {
		k, err := LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// LoadSecretKey reads a secret signing key file. It refuses a file that
// group or others may read or write before reading it.
func LoadSecretKey(path string) (ed25519.PrivateKey, error) {
	k, err := edkey.LoadSecret(path)
	if err != nil {
		return nil, fmt.Errorf("policy: secret key: %w", err)
	}
	return k, nil
}

// GenerateKey creates a signing keypair as dir/NAME.pub (mode 0644) and
// dir/NAME.secret (mode 0600), creating dir (mode 0700) when it does not
// exist. Existing files are never overwritten.
func GenerateKey(dir, name string) (pubPath, secretPath string, err error) {
	if name == "" || name != filepath.Base(name) || name[0] == '.' {
		return "", "", fmt.Errorf("policy: keygen: %q is not a plain file name", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("policy: keygen: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", "", fmt.Errorf("policy: keygen: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", fmt.Errorf("policy: keygen: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("policy: keygen: %w", err)
	}
	id := KeyID(pub)
	pubPath, secretPath = filepath.Join(dir, name+".pub"), filepath.Join(dir, name+".secret")
	for _, p := range []string{pubPath, secretPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("policy: keygen: %s exists; not overwriting it", p)
		}
	}
	secret := append([]byte("# zapgate policy signing key (ed25519), SECRET, key id "+id+"\n"),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	if err := writeNew(secretPath, secret, 0o600); err != nil {
		return "", "", err
	}
	public := append([]byte("# zapgate policy signing key (ed25519), public, key id "+id+"\n"),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})...)
	if err := writeNew(pubPath, public, 0o644); err != nil {
		os.Remove(secretPath)
		return "", "", err
	}
	return pubPath, secretPath, nil
}

// writeNew creates path exclusively with perm (the umask may narrow it,
// never widen it) and writes data to it.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("policy: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("policy: write %s: %w", path, err)
	}
	return f.Close()
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}
