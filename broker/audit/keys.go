package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"github.com/zapgate/zapgate/internal/edkey"
	"io"
	"os"
	"path/filepath"
)

// Checkpoint keys are ed25519 keys in the PEM files OpenSSL writes
// ("openssl genpkey -algorithm ed25519", "openssl pkey -pubout"):
// NAME.secret holds a PKCS #8 "PRIVATE KEY" (mode 0600), NAME.pub a PKIX
// "PUBLIC KEY". A comment line before the PEM block is ignored.

// ErrInsecureMode is wrapped by LoadSecretKey's error for a key file that
// group or others may access.
var ErrInsecureMode = edkey.ErrInsecureMode

// maxKeyFile bounds a key file.
const maxKeyFile = 64 << 10

// KeyID names a checkpoint key: "SHA256:" and the first 16 characters of
// the unpadded standard base64 SHA-256 of the 32 raw public key bytes.
func KeyID(pub ed25519.PublicKey) string { return edkey.KeyID(pub) }

// LoadSecretKey reads a checkpoint signing key. It refuses, before reading
// it, a file that is not regular or that group or others may read or write.
func LoadSecretKey(path string) (ed25519.PrivateKey, error) {
	k, err := edkey.LoadSecret(path)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint key: %w", err)
	}
	return k, nil
}

// LoadPublicKey reads a checkpoint verification key: a PEM "PUBLIC KEY"
// file, or a secret key file (whose public half is used).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: public key: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("audit: public key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block != nil && block.Type == "PRIVATE KEY" {
		priv, err := LoadSecretKey(path)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	}
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf(`audit: public key %s: no "PUBLIC KEY" PEM block`, path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: public key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit: public key %s: a %T, not an ed25519 key", path, k)
	}
	return pub, nil
}

// GenerateKey writes a new checkpoint keypair as dir/NAME.secret (mode
// 0600) and dir/NAME.pub (mode 0644). Existing files are never
// overwritten.
func GenerateKey(dir, name string) (pubPath, secretPath, keyID string, err error) {
	if name == "" || name != filepath.Base(name) || name[0] == '.' {
		return "", "", "", fmt.Errorf("audit: keygen: %q is not a plain file name", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", "", fmt.Errorf("audit: keygen: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", "", "", fmt.Errorf("audit: keygen: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", "", fmt.Errorf("audit: keygen: %w", err)
	}
	keyID = KeyID(pub)
	pubPath, secretPath = filepath.Join(dir, name+".pub"), filepath.Join(dir, name+".secret")
	secret := append([]byte("# zapgate audit checkpoint key (ed25519), SECRET, key id "+keyID+"\n"),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	public := append([]byte("# zapgate audit checkpoint key (ed25519), public, key id "+keyID+"\n"),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})...)
	if err := writeNewFile(secretPath, secret, 0o600); err != nil {
		return "", "", "", err
	}
	if err := writeNewFile(pubPath, public, 0o644); err != nil {
		_ = os.Remove(secretPath)
		return "", "", "", err
	}
	return pubPath, secretPath, keyID, nil
}

// writeNewFile creates path exclusively with perm, writes data and syncs.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("audit: write %s: %w", path, err)
	}
	return nil
}
