package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Refetches of the provider's keys for an unknown key ID are bounded: a
// bucket of keyFetchBurst fetches, refilled by one every keyFetchEvery.
// Anyone who reaches the listener can send tokens naming made-up key IDs;
// without a bound each one would be a request to the provider (whose own
// rate limits then hit every other client of the organisation).
const (
	keyFetchBurst = 3
	keyFetchEvery = 10 * time.Second
	maxJWKSBytes  = 1 << 20
)

// signingAlgs are the JWS algorithms a token may be signed with.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384,
	jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

// keySet is the provider's published keys (an oidc.KeySet). They are
// fetched on first use and again only when a token names a key ID that is
// not among them (key rotation), within the fetch bound. A token with a
// known key ID and a bad signature never causes a fetch.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	fetch  sync.Mutex // one fetch at a time
	mu     sync.Mutex
	keys   []jose.JSONWebKey
	loaded bool
	budget float64
	filled time.Time
}

func newKeySet(url string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, now: now, budget: keyFetchBurst, filled: now()}
}

// VerifySignature verifies jwt with the key it names and returns its
// payload.
func (ks *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not signed, or multiple signatures")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, known := ks.lookup(kid)
	if !known {
		if keys, err = ks.refresh(ctx, kid); err != nil {
			return nil, fmt.Errorf("fetching keys: %w", err)
		}
	}
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := jws.Verify(&keys[i]); err == nil {
				return payload, nil
			}
		}
	}
	return nil, errors.New("failed to verify id token signature")
}

// lookup returns the cached keys and whether they were loaded and (for a
// non-empty kid) include kid.
func (ks *keySet) lookup(kid string) ([]jose.JSONWebKey, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.loaded {
		return nil, false
	}
	if kid == "" {
		return ks.keys, true
	}
	for _, k := range ks.keys {
		if k.KeyID == kid {
			return ks.keys, true
		}
	}
	return ks.keys, false
}

// refresh fetches the keys unless another fetch meanwhile brought kid,
// or the fetch bound is spent (then the cached keys are returned: the
// token will not verify).
func (ks *keySet) refresh(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	ks.fetch.Lock()
	defer ks.fetch.Unlock()
	if keys, known := ks.lookup(kid); known {
		return keys, nil
	}
	ks.mu.Lock()
	now := ks.now()
	ks.budget = min(keyFetchBurst, ks.budget+float64(now.Sub(ks.filled))/float64(keyFetchEvery))
	ks.filled = now
	if ks.budget < 1 {
		keys, loaded := ks.keys, ks.loaded
		ks.mu.Unlock()
		if !loaded {
			return nil, fmt.Errorf("%s: not fetched yet, and the fetch bound is spent (%d per %s)", ks.url, keyFetchBurst, keyFetchEvery)
		}
		return keys, nil
	}
	ks.budget--
	ks.mu.Unlock()

	keys, err := ks.get(ctx)
	if err != nil {
		return nil, err
	}
	ks.mu.Lock()
	ks.keys, ks.loaded = keys, true
	ks.mu.Unlock()
	return keys, nil
}

// get fetches and decodes the JWKS.
func (ks *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ks.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", ks.url, resp.StatusCode)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", ks.url, maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%s: not a JSON Web Key Set: %w", ks.url, err)
	}
	return set.Keys, nil
}
