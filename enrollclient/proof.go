package enrollclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"golang.org/x/crypto/curve25519"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/enroll/wire"
)

// Challenge is the broker's answer to GET /v1/enroll/challenge.
type Challenge = wire.Challenge

// Challenge fetches a new one-time challenge from GET
// /v1/enroll/challenge. Use it at once: it expires within minutes and
// serves one request.
func (c *Client) Challenge(ctx context.Context) (Challenge, error) {
	var ch Challenge
	if _, err := c.do(ctx, http.MethodGet, "/v1/enroll/challenge", nil, &ch); err != nil {
		return Challenge{}, err
	}
	if ch.Challenge == "" || len(ch.Challenge) > 256 {
		return Challenge{}, errors.New("enroll: the broker's challenge is empty or too long")
	}
	if _, err := certs.ParsePublicKey(ch.ServerKey); err != nil {
		return Challenge{}, fmt.Errorf("enroll: the broker's challenge server_key is not a CURVE public key: %w", err)
	}
	return ch, nil
}

// Proof returns the proof that the holder of secret enrolls its public key
// for principal with idToken, answering ch:
//
//	base64url(HMAC-SHA256(X25519(secret, server_key),
//	    "zapgate-enroll-v1" 0x00 challenge 0x00 principal 0x00 public_key 0x00 hex(sha256(idToken))))
//
// public_key is the Z85 text of secret's public key. A server_key that
// is not Z85 or is a low-order point (the shared secret would be all
// zeros, known to anyone) is refused.
func Proof(secret certs.SecretKey, ch Challenge, principal, idToken string) (string, error) {
	pub, err := secret.Public()
	if err != nil {
		return "", fmt.Errorf("enroll: %w", err)
	}
	server, err := certs.ParsePublicKey(ch.ServerKey)
	if err != nil {
		return "", fmt.Errorf("enroll: the broker's server_key: %w", err)
	}
	shared, err := curve25519.X25519(secret[:], server[:])
	if err != nil {
		return "", fmt.Errorf("enroll: the broker's server_key is unusable (a low-order point): %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(wire.ProofMAC(shared, ch.Challenge, principal, pub.String(), idToken)), nil
}

// EnrollKey enrolls the public key of secret for principal with idToken:
// it fetches a challenge, proves that it holds secret, and posts the
// request (POST /v1/enroll). The secret key is never sent. Call it right
// after the sign-in: the challenge expires within minutes.
func (c *Client) EnrollKey(ctx context.Context, secret certs.SecretKey, principal, idToken string) (Result, error) {
	pub, err := secret.Public()
	if err != nil {
		return Result{}, fmt.Errorf("enroll: %w", err)
	}
	ch, err := c.Challenge(ctx)
	if err != nil {
		return Result{}, err
	}
	proof, err := Proof(secret, ch, principal, idToken)
	if err != nil {
		return Result{}, err
	}
	return c.Enroll(ctx, EnrollRequest{Principal: principal, PublicKey: pub.String(), IDToken: idToken, Challenge: ch.Challenge, Proof: proof})
}

// ErrPublicOnly is wrapped by LoadNodeKey's error for a certificate file
// without a secret key.
var ErrPublicOnly = errors.New("enroll needs the node's secret certificate NAME.key_secret to prove it holds the key; the secret never leaves this machine")

// LoadNodeKey loads the node's secret certificate (NAME.key_secret) for
// EnrollKey, with certs.LoadSecret's checks (mode 0600 or narrower). A
// public certificate gets an error wrapping ErrPublicOnly, not advice to
// chmod it.
func LoadNodeKey(path string) (*certs.Cert, error) {
	c, err := certs.LoadSecret(path)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, certs.ErrNoSecret) || (errors.Is(err, certs.ErrInsecureMode) && publicOnly(path)):
		hint := ""
		if _, serr := os.Stat(path + "_secret"); serr == nil {
			hint = fmt.Sprintf(" (use %s_secret)", path)
		}
		return nil, fmt.Errorf("%s holds no secret key: %w%s", path, ErrPublicOnly, hint)
	}
	return nil, err
}

// publicOnly reports whether path parses as a certificate without a
// secret key. It reads at most 64 KiB and keeps nothing it read.
func publicOnly(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return false
	}
	c, err := certs.ParseCert(path, data)
	return err == nil && c.Secret == nil
}
