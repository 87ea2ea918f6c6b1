// Package edkey reads ed25519 key files in OpenSSL's PEM formats (PKCS#8
// "PRIVATE KEY", PKIX "PUBLIC KEY"), shared by the policy signing keys and
// the audit checkpoint keys. A secret key file that group or others may
// read or write is refused before it is read.
package edkey

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/zapgate/zapgate/internal/strictmode"
)

// MaxFile bounds a key file's size.
const MaxFile = 64 << 10

// ErrInsecureMode means a secret key file may be read or written by group
// or others. It is strictmode.ErrAccessible: every secret file goes
// through that one check.
var ErrInsecureMode = strictmode.ErrAccessible

// KeyID is a short identifier of a public key: "SHA256:" and the first 16
// characters of the unpadded standard base64 SHA-256 of its 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])[:16]
}

// LoadSecret reads a PKCS#8 ed25519 secret key file. It refuses, before
// reading it, a file that is not regular or whose mode lets group or
// others read or write it (ErrInsecureMode, with the chmod fix). Errors
// name the file.
func LoadSecret(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if err := strictmode.Secret(path, fi); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf(`%s: no "PRIVATE KEY" PEM block`, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an ed25519 key", path, k)
	}
	return priv, nil
}
