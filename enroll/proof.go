package enroll

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zapgate/zapgate/enroll/wire"

	"golang.org/x/crypto/curve25519"

	"github.com/zapgate/zapgate/certs"
)

// Proof of possession (docs/enrollment.md#proof-of-possession): the
// broker hands out a one-time challenge with an ephemeral X25519 public
// key; the node proves it holds the secret key of the public key it
// enrolls with an HMAC keyed by the X25519 secret both sides can compute.

// ChallengeTTL is how long a challenge may be used after it was issued.
const ChallengeTTL = 5 * time.Minute

// MaxChallenges bounds the challenges kept at once; issuing one more
// drops the oldest.
const MaxChallenges = 10000

// challengeBytes is the number of random bytes in a challenge.
const challengeBytes = 16

// VerifyProof reports whether proof (base64url of 32 bytes, padding
// optional) is HMAC-SHA256(X25519(serverSecret, nodeKey), ProofMessage(...)),
// which only a holder of nodeKey's secret key can compute. A low-order
// nodeKey (the shared secret would be all zeros) never verifies.
func VerifyProof(serverSecret [32]byte, nodeKey certs.PublicKey, challenge, principal, idToken, proof string) bool {
	got, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(proof, "="))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	shared, err := curve25519.X25519(serverSecret[:], nodeKey[:])
	if err != nil {
		return false
	}
	return hmac.Equal(wire.ProofMAC(shared, challenge, principal, nodeKey.String(), idToken), got)
}

// pendingChallenge is one issued, unused challenge.
type pendingChallenge struct {
	id      string
	secret  [32]byte // the ephemeral X25519 secret key
	expires time.Time
}

// challenges keeps issued challenges in memory, oldest first: each is
// used at most once and only until it expires; at most max are kept.
type challenges struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	byID  map[string]*list.Element
	order *list.List // of *pendingChallenge, in order of issue
}

func newChallenges(limit int, ttl time.Duration, now func() time.Time) *challenges {
	return &challenges{max: limit, ttl: ttl, now: now, byID: map[string]*list.Element{}, order: list.New()}
}

// issue makes a new challenge with a fresh ephemeral key pair, dropping
// expired challenges and, when full, the oldest one.
func (c *challenges) issue() (wire.Challenge, error) {
	var raw [challengeBytes]byte
	var secret [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return wire.Challenge{}, fmt.Errorf("enroll: challenge: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return wire.Challenge{}, fmt.Errorf("enroll: challenge: %w", err)
	}
	pub, err := curve25519.X25519(secret[:], curve25519.Basepoint)
	if err != nil {
		return wire.Challenge{}, fmt.Errorf("enroll: challenge key: %w", err)
	}
	var serverKey certs.PublicKey
	copy(serverKey[:], pub)
	now := c.now()
	p := &pendingChallenge{id: base64.RawURLEncoding.EncodeToString(raw[:]), secret: secret, expires: now.Add(c.ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil && !now.Before(e.Value.(*pendingChallenge).expires); e = c.order.Front() {
		c.removeLocked(e)
	}
	for c.order.Len() >= c.max {
		c.removeLocked(c.order.Front())
	}
	c.byID[p.id] = c.order.PushBack(p)
	return wire.Challenge{Challenge: p.id, ServerKey: serverKey.String(), ExpiresAt: p.expires.UTC()}, nil
}

// take removes the challenge id and returns its ephemeral secret; ok is
// false when it is unknown, was used or dropped, or has expired.
func (c *challenges) take(id string) (secret [32]byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.byID[id]
	if !found {
		return secret, false
	}
	p := e.Value.(*pendingChallenge)
	secret = p.secret
	c.removeLocked(e)
	if !c.now().Before(p.expires) {
		return [32]byte{}, false
	}
	return secret, true
}

// outstanding returns how many challenges are kept.
func (c *challenges) outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// removeLocked forgets a challenge and wipes its secret. The caller holds
// c.mu.
func (c *challenges) removeLocked(e *list.Element) {
	p := c.order.Remove(e).(*pendingChallenge)
	delete(c.byID, p.id)
	p.secret = [32]byte{}
}
