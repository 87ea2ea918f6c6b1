// Package routingid mints and verifies the ROUTER routing ids the broker
// addresses its peers by. The ZAP handler mints one for each accepted
// connection and sets it in the ZAP reply (metadata "Identity"), which
// makes libzmq use it instead of the id the peer asked for; the broker
// then accepts a message only if its routing id was minted for the
// connection's key and User-Id. A routing id is never chosen by a peer,
// never reused across connections, and never sent to any peer.
//
// An id is
//
//	version (1 byte, 'z') || nonce (8-byte counter || 8 random bytes) ||
//	HMAC-SHA256(secret, nonce || len(key) || key || user)[:16]
//
// with a secret drawn from crypto/rand when the Minter is created, so ids
// of a previous process never verify and ids of this one cannot be
// guessed or forged for another key or principal.
package routingid

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// Len is the length of a minted routing id in bytes (libzmq allows 1 to
// 255; ids starting with a zero byte are reserved for libzmq's own).
const Len = 1 + nonceLen + macLen

const (
	version  = 'z'
	nonceLen = 16
	macLen   = 16
)

// Minter mints and verifies routing ids under one per-process secret. It
// is safe for concurrent use.
type Minter struct {
	secret [32]byte
	seq    atomic.Uint64
}

// New returns a Minter with a fresh random secret.
func New() (*Minter, error) {
	m := &Minter{}
	if _, err := rand.Read(m.secret[:]); err != nil {
		return nil, fmt.Errorf("routingid: secret: %w", err)
	}
	return m, nil
}

// Mint returns a new routing id for a connection authenticated with the
// CURVE key key (Z85) as principal user. No two calls return the same id.
func (m *Minter) Mint(key, user string) (string, error) {
	id := make([]byte, 1+nonceLen, Len)
	id[0] = version
	binary.BigEndian.PutUint64(id[1:9], m.seq.Add(1))
	if _, err := rand.Read(id[9 : 1+nonceLen]); err != nil {
		return "", fmt.Errorf("routingid: nonce: %w", err)
	}
	return string(m.mac(id, id[1:], key, user)), nil
}

// Verify reports whether id was minted by m for key and user.
func (m *Minter) Verify(id, key, user string) bool {
	if m == nil || len(id) != Len || id[0] != version {
		return false
	}
	want := m.mac(make([]byte, 0, macLen), []byte(id[1:1+nonceLen]), key, user)
	return hmac.Equal(want, []byte(id[1+nonceLen:]))
}

// mac appends the truncated MAC of nonce, key and user to dst.
func (m *Minter) mac(dst, nonce []byte, key, user string) []byte {
	h := hmac.New(sha256.New, m.secret[:])
	h.Write(nonce)
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(key))))
	h.Write([]byte(key))
	h.Write([]byte(user))
	return h.Sum(dst)[:len(dst)+macLen]
}
