package policy

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// A policy file's signature is a detached ed25519 signature in FILE.sig, a
// small text file:
//
//	# zapgate policy signature; see docs/policy.md
//	zapgate-policy-signature: v1
//	key-id: SHA256:q3n1mQe6Nqk0Wc3T
//	file-sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	signature: <base64 of the 64-byte ed25519 signature>
//
// The signed message is the ASCII context line SignatureContext followed
// by the exact bytes of the policy file, so a signature made for a policy
// can never be replayed as a signature over something else, and any
// changed byte (including whitespace and comments) invalidates it.
// key-id names the signing key (see KeyID); file-sha256 lets a reviewer
// compare with sha256sum and makes "the file changed after signing" a
// clear error. Blank lines and lines starting with '#' are ignored; every
// other line must be one of the four fields, each exactly once.

// SignatureContext is prepended to the policy file's bytes to form the
// signed message.
const SignatureContext = "zapgate policy signature v1\n"

// maxSigFile bounds a signature file.
const maxSigFile = 4 << 10

// SignaturePath returns the signature file of a policy file: path + ".sig".
func SignaturePath(policyPath string) string { return policyPath + ".sig" }

// Sign returns the contents of a signature file for the policy bytes data.
func Sign(key ed25519.PrivateKey, data []byte) []byte {
	pub := key.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(key, signedMessage(data))
	sum := sha256.Sum256(data)
	var b bytes.Buffer
	b.WriteString("# zapgate policy signature; see docs/policy.md\n")
	b.WriteString("zapgate-policy-signature: v1\n")
	fmt.Fprintf(&b, "key-id: %s\n", KeyID(pub))
	fmt.Fprintf(&b, "file-sha256: %s\n", hex.EncodeToString(sum[:]))
	fmt.Fprintf(&b, "signature: %s\n", base64.StdEncoding.EncodeToString(sig))
	return b.Bytes()
}

func signedMessage(data []byte) []byte {
	msg := make([]byte, 0, len(SignatureContext)+len(data))
	return append(append(msg, SignatureContext...), data...)
}

// sigFile is a parsed signature file.
type sigFile struct {
	keyID     string
	fileSum   []byte
	signature []byte
}

// parseSig parses a signature file strictly.
func parseSig(sig []byte) (*sigFile, error) {
	if len(sig) > maxSigFile {
		return nil, fmt.Errorf("%w: signature file over %d bytes", ErrBadSignature, maxSigFile)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sig))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, value, ok := strings.Cut(t, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: line %d: want NAME: VALUE", ErrBadSignature, line)
		case !contains([]string{"zapgate-policy-signature", "key-id", "file-sha256", "signature"}, name):
			return nil, fmt.Errorf("%w: line %d: unknown field %q", ErrBadSignature, line, name)
		case fields[name] != "":
			return nil, fmt.Errorf("%w: line %d: %s given twice", ErrBadSignature, line, name)
		case value == "":
			return nil, fmt.Errorf("%w: line %d: %s is empty", ErrBadSignature, line, name)
		}
		fields[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if v := fields["zapgate-policy-signature"]; v != "v1" {
		return nil, fmt.Errorf("%w: want zapgate-policy-signature: v1, got %q", ErrBadSignature, v)
	}
	s := &sigFile{keyID: fields["key-id"]}
	if s.keyID == "" {
		return nil, fmt.Errorf("%w: key-id missing", ErrBadSignature)
	}
	var err error
	if s.fileSum, err = hex.DecodeString(fields["file-sha256"]); err != nil || len(s.fileSum) != sha256.Size {
		return nil, fmt.Errorf("%w: file-sha256 must be 64 hex digits", ErrBadSignature)
	}
	if s.signature, err = base64.StdEncoding.DecodeString(fields["signature"]); err != nil || len(s.signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature must be the base64 of 64 bytes", ErrBadSignature)
	}
	return s, nil
}

// Verify checks the signature file contents sig over the policy bytes
// data against the trusted keys, and returns the key that made it. The
// error wraps ErrBadSignature (malformed, or the bytes do not match) or
// ErrUntrustedKey (made by a key not in trusted).
func Verify(data, sig []byte, trusted []PublicKey) (PublicKey, error) {
	s, err := parseSig(sig)
	if err != nil {
		return PublicKey{}, err
	}
	sum := sha256.Sum256(data)
	if !bytes.Equal(sum[:], s.fileSum) {
		return PublicKey{}, fmt.Errorf("%w: the file changed after it was signed (sha256 %x, signed %x)", ErrBadSignature, sum, s.fileSum)
	}
	msg := signedMessage(data)
	found := false
	for _, k := range trusted {
		if k.ID != s.keyID {
			continue
		}
		found = true
		if len(k.Key) == ed25519.PublicKeySize && ed25519.Verify(k.Key, msg, s.signature) {
			return k, nil
		}
	}
	if !found {
		return PublicKey{}, fmt.Errorf("%w: key %s", ErrUntrustedKey, s.keyID)
	}
	return PublicKey{}, fmt.Errorf("%w: does not verify with key %s", ErrBadSignature, s.keyID)
}
