package enroll

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testIssuer is an OpenID provider for unit tests: a discovery document
// and a JWKS on 127.0.0.1, and ES256 tokens signed with its current key.
// rotate replaces the key; the JWKS then serves only the new one.
type testIssuer struct {
	srv *httptest.Server

	mu       sync.Mutex
	key      *ecdsa.PrivateKey
	kid      string
	n        int
	jwksHits int
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{}
	iss.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss.srv.URL,
			"jwks_uri":                              iss.srv.URL + "/jwks",
			"authorization_endpoint":                iss.srv.URL + "/auth",
			"token_endpoint":                        iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		iss.mu.Lock()
		iss.jwksHits++
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &iss.key.PublicKey, KeyID: iss.kid, Algorithm: "ES256", Use: "sig"}}}
		iss.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// URL is the issuer URL.
func (iss *testIssuer) URL() string { return iss.srv.URL }

// rotate makes a new signing key the only one published.
func (iss *testIssuer) rotate(t *testing.T) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.n++
	iss.key, iss.kid = k, fmt.Sprintf("key-%d", iss.n)
}

// claims are a token's claims; defaults are filled by token.
type claims map[string]any

// token signs c with the current key, after filling iss, aud, sub, exp,
// iat and email when absent.
func (iss *testIssuer) token(t *testing.T, c claims) string {
	t.Helper()
	iss.mu.Lock()
	key, kid := iss.key, iss.kid
	iss.mu.Unlock()
	return signToken(t, key, kid, iss.fill(c))
}

func (iss *testIssuer) fill(c claims) claims {
	out := claims{"iss": iss.srv.URL, "aud": testClientID, "sub": "00u-alice", "email": "alice@corp.example.com",
		"email_verified": true, "groups": []string{"backup-admins"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(), "nonce": randomID()}
	for k, v := range c {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func signToken(t *testing.T, key *ecdsa.PrivateKey, kid string, c claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomID makes tokens with equal claims differ.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
