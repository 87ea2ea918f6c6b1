package policy

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOptions say what Load checks besides the file's own validity.
type LoadOptions struct {
	// RequireSignature refuses a file without a valid FILE.sig made by one
	// of TrustedKeys.
	RequireSignature bool
	// TrustedKeys are the keys whose signatures are accepted.
	TrustedKeys []PublicKey
	// RunTests refuses a file whose embedded tests do not all pass.
	RunTests bool
}

// Load reads, verifies and compiles the policy file at path. With
// RequireSignature, the signature is verified before the file is parsed,
// so an unsigned or tampered file is refused unread (ErrNoSignature,
// ErrBadSignature, ErrUntrustedKey). Invalid files fail with Errors
// (every problem, file:line); with RunTests, failing embedded tests fail
// with ErrTestsFailed.
func Load(path string, opts LoadOptions) (*Policy, error) {
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	return loadData(path, data, opts)
}

// loadData is Load of the bytes data already read from path.
func loadData(path string, data []byte, opts LoadOptions) (*Policy, error) {
	var signer PublicKey
	var err error
	if opts.RequireSignature {
		if signer, err = verifyFile(path, data, opts.TrustedKeys); err != nil {
			return nil, err
		}
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.signedBy = signer.ID
	if opts.RunTests {
		if err := checkTests(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// VerifyFile checks the signature file of the policy file at path against
// the trusted keys and returns the key that made it.
func VerifyFile(path string, trusted []PublicKey) (PublicKey, error) {
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		return PublicKey{}, fmt.Errorf("policy: read %s: %w", path, err)
	}
	return verifyFile(path, data, trusted)
}

func verifyFile(path string, data []byte, trusted []PublicKey) (PublicKey, error) {
	if len(trusted) == 0 {
		return PublicKey{}, fmt.Errorf("policy: %s: a signature is required but no trusted keys are configured: %w", path, ErrUntrustedKey)
	}
	sigPath := SignaturePath(path)
	sig, err := readLimited(sigPath, maxSigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return PublicKey{}, fmt.Errorf("policy: %s: %w: %s is missing (sign with: zapgate policy sign --key SECRET %s)", path, ErrNoSignature, sigPath, path)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("policy: read %s: %w", sigPath, err)
	}
	k, err := Verify(data, sig, trusted)
	if err != nil {
		return PublicKey{}, fmt.Errorf("policy: %s: %w", path, err)
	}
	return k, nil
}

// Signed describes a signature SignFile wrote.
type Signed struct {
	// SigPath is the signature file, FILE.sig.
	SigPath string
	// KeyID is the signing key's ID.
	KeyID string
	// Revision is the signed policy's revision.
	Revision string
}

// SignFile signs the policy file at path with key and writes FILE.sig
// (replacing an older one atomically). It refuses a file that does not
// load or whose embedded tests fail: the broker would refuse it anyway.
func SignFile(path string, key ed25519.PrivateKey) (Signed, error) {
	var none Signed
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		return none, fmt.Errorf("policy: read %s: %w", path, err)
	}
	p, err := Parse(path, data)
	if err != nil {
		return none, fmt.Errorf("policy: refusing to sign an invalid policy: %w", err)
	}
	if err := checkTests(p); err != nil {
		return none, fmt.Errorf("policy: refusing to sign: %w", err)
	}
	sigPath := SignaturePath(path)
	tmp, err := os.CreateTemp(filepath.Dir(sigPath), "."+filepath.Base(sigPath)+".*")
	if err != nil {
		return none, fmt.Errorf("policy: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(Sign(key, data)); err != nil {
		tmp.Close()
		return none, fmt.Errorf("policy: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return none, fmt.Errorf("policy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return none, fmt.Errorf("policy: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return none, fmt.Errorf("policy: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), sigPath); err != nil {
		return none, fmt.Errorf("policy: %w", err)
	}
	return Signed{SigPath: sigPath, KeyID: KeyID(key.Public().(ed25519.PublicKey)), Revision: p.revision}, nil
}
