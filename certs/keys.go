package certs

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	zmq "github.com/pebbe/zmq4"
)

// KeySize is the length in bytes of a CURVE public or secret key.
const KeySize = 32

// keyTextSize is the length of a CURVE key in Z85 text.
const keyTextSize = 40

// PublicKey is a CURVE (Curve25519) public key.
type PublicKey [KeySize]byte

// SecretKey is a CURVE (Curve25519) secret key. Its String, GoString,
// LogValue and MarshalText methods never reveal the key; use Z85 to get the
// text form on purpose, for example to configure a socket.
type SecretKey [KeySize]byte

// errSecretMarshal is returned by SecretKey.MarshalText.
var errSecretMarshal = errors.New("certs: refusing to marshal a secret key")

// GenerateKeypair returns a new CURVE keypair from libzmq's generator
// (zmq_curve_keypair, which uses libsodium's random source).
func GenerateKeypair() (PublicKey, SecretKey, error) {
	pubText, secText, err := zmq.NewCurveKeypair()
	if err != nil {
		return PublicKey{}, SecretKey{}, fmt.Errorf("certs: generate keypair: %w", err)
	}
	pub, err := ParsePublicKey(pubText)
	if err != nil {
		return PublicKey{}, SecretKey{}, fmt.Errorf("certs: generate keypair: %w", err)
	}
	sec, err := ParseSecretKey(secText)
	if err != nil {
		return PublicKey{}, SecretKey{}, fmt.Errorf("certs: generate keypair: %w", err)
	}
	return pub, sec, nil
}

// decodeKey decodes exactly 40 Z85 characters into 32 bytes. Its errors
// carry no context prefix and quote the offending characters.
func decodeKey(text string) ([KeySize]byte, error) {
	var k [KeySize]byte
	if len(text) != keyTextSize {
		return k, fmt.Errorf("want %d z85 characters, got %d: %w", keyTextSize, len(text), ErrZ85)
	}
	raw, err := z85Decode(text)
	if err != nil {
		return k, err
	}
	copy(k[:], raw)
	return k, nil
}

// decodeSecret is decodeKey for secret keys: its errors never quote the
// text.
func decodeSecret(text string) (SecretKey, error) {
	if len(text) != keyTextSize {
		return SecretKey{}, fmt.Errorf("want %d z85 characters, got %d: %w", keyTextSize, len(text), ErrZ85)
	}
	k, err := decodeKey(text)
	if err != nil {
		return SecretKey{}, fmt.Errorf("not valid z85 text: %w", ErrZ85)
	}
	return SecretKey(k), nil
}

// ParsePublicKey decodes a public key from its 40-character Z85 text.
func ParsePublicKey(z85 string) (PublicKey, error) {
	k, err := decodeKey(z85)
	if err != nil {
		return PublicKey{}, fmt.Errorf("certs: parse public key: %w", err)
	}
	return PublicKey(k), nil
}

// ParseSecretKey decodes a secret key from its 40-character Z85 text. Errors
// never quote the text.
func ParseSecretKey(z85 string) (SecretKey, error) {
	k, err := decodeSecret(z85)
	if err != nil {
		return SecretKey{}, fmt.Errorf("certs: parse secret key: %w", err)
	}
	return k, nil
}

// String returns the key as 40 characters of Z85 text.
func (k PublicKey) String() string {
	s, _ := Z85Encode(k[:]) // 32 is a multiple of 4: cannot fail
	return s
}

// Z85 returns the key as 40 characters of Z85 text, like String.
func (k PublicKey) Z85() string { return k.String() }

// IsZero reports whether every byte of k is zero (the key is unset).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// Fingerprint returns a short, stable, log-friendly identifier of the key:
// "SHA256:" followed by the first 16 characters of the unpadded standard
// base64 encoding (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /) of the
// SHA-256 digest of the 32 raw key bytes. It carries 96 bits of the digest.
func (k PublicKey) Fingerprint() string {
	sum := sha256.Sum256(k[:])
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])[:16]
}

// MarshalText returns the Z85 text of the key.
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses 40 characters of Z85 text into k.
func (k *PublicKey) UnmarshalText(text []byte) error {
	parsed, err := ParsePublicKey(string(text))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}

// String returns "[secret]" and never the key.
func (SecretKey) String() string { return "[secret]" }

// GoString returns "certs.SecretKey([secret])" and never the key, so %#v
// does not reveal it either.
func (SecretKey) GoString() string { return "certs.SecretKey([secret])" }

// LogValue implements slog.LogValuer: a logged SecretKey shows "[secret]".
func (SecretKey) LogValue() slog.Value { return slog.StringValue("[secret]") }

// MarshalText always fails, so a SecretKey inside a struct is never written
// out by encoding/json, YAML or similar encoders by accident.
func (SecretKey) MarshalText() ([]byte, error) { return nil, errSecretMarshal }

// Z85 returns the secret key as 40 characters of Z85 text. Use it only to
// hand the key to libzmq or to write a secret certificate file.
func (k SecretKey) Z85() string {
	s, _ := Z85Encode(k[:]) // 32 is a multiple of 4: cannot fail
	return s
}

// IsZero reports whether every byte of k is zero (the key is unset).
func (k SecretKey) IsZero() bool { return k == SecretKey{} }

// Public derives the public key that belongs to k (X25519 with the base
// point, as libsodium's crypto_scalarmult_base does).
func (k SecretKey) Public() (PublicKey, error) {
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		return PublicKey{}, fmt.Errorf("certs: derive public key: %w", err)
	}
	var pub PublicKey
	copy(pub[:], priv.PublicKey().Bytes())
	return pub, nil
}
