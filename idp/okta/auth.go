package okta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// AssertionType is the client_assertion_type of a private_key_jwt client
// assertion (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionLifetime is the validity of each client assertion; Okta accepts
// at most one hour.
const AssertionLifetime = 5 * time.Minute

// renewBefore is how long before its expiry a cached access token is
// replaced.
const renewBefore = time.Minute

// authorizer produces the Authorization header of API requests.
type authorizer interface {
	// header returns the Authorization header value and the generation
	// of the token in it; it gives up when ctx ends.
	header(ctx context.Context) (string, uint64, error)
	// invalidate drops the cached token of generation gen after the API
	// refused it (401); a token fetched since then is kept.
	invalidate(gen uint64)
	// check fetches a fresh token (OAuth) for doctor; SSWS returns nil.
	check() error
}

// ssws authenticates with an Okta API token.
type ssws struct{ token string }

func (s ssws) header(context.Context) (string, uint64, error) { return "SSWS " + s.token, 0, nil }
func (s ssws) invalidate(uint64)                              {}
func (s ssws) check() error                                   { return nil }

// oauthAuth authenticates with OAuth 2.0 client credentials and a
// private_key_jwt client assertion; access tokens are cached and renewed
// renewBefore their expiry.
type oauthAuth struct {
	src *assertionSource
	mu  sync.Mutex
	ts  oauth2.TokenSource
	gen uint64 // incremented each time ts is replaced
}

func newOAuth(src *assertionSource) *oauthAuth {
	return &oauthAuth{src: src, ts: oauth2.ReuseTokenSourceWithExpiry(nil, src, renewBefore)}
}

// header returns the cached token or fetches one. The fetch itself is
// bounded by Config.Timeout (oauth2.TokenSource takes no context); the
// caller stops waiting for it when ctx ends, so a slow token endpoint
// never holds a lookup past its deadline.
func (a *oauthAuth) header(ctx context.Context) (string, uint64, error) {
	a.mu.Lock()
	ts, gen := a.ts, a.gen
	a.mu.Unlock()
	type result struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() {
		tok, err := ts.Token()
		ch <- result{tok, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", 0, r.err
		}
		return "Bearer " + r.tok.AccessToken, gen, nil
	case <-ctx.Done():
		return "", 0, fmt.Errorf("okta: waiting for an access token from %s: %w", a.src.tokenURL, ctx.Err())
	}
}

func (a *oauthAuth) invalidate(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.gen {
		return // another request already replaced the refused token
	}
	a.gen++
	a.ts = oauth2.ReuseTokenSourceWithExpiry(nil, a.src, renewBefore)
}

func (a *oauthAuth) check() error {
	_, err := a.src.Token()
	return err
}

// assertionSource is an oauth2.TokenSource that asks the token endpoint
// for a new access token with a freshly signed client assertion each time.
type assertionSource struct {
	clientID string
	scopes   []string
	tokenURL string
	key      signingKey
	client   *http.Client
	timeout  time.Duration
	now      func() time.Time
}

// Token implements oauth2.TokenSource.
func (s *assertionSource) Token() (*oauth2.Token, error) {
	assertion, err := s.key.assertion(s.clientID, s.tokenURL, s.now())
	if err != nil {
		return nil, fmt.Errorf("okta: sign client assertion: %w", err)
	}
	cc := &clientcredentials.Config{
		ClientID: s.clientID,
		TokenURL: s.tokenURL,
		Scopes:   s.scopes,
		EndpointParams: url.Values{
			"client_assertion_type": {AssertionType},
			"client_assertion":      {assertion},
		},
		AuthStyle: oauth2.AuthStyleInParams,
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return nil, tokenError(s.tokenURL, s.clientID, err)
	}
	return tok, nil
}

// tokenError explains a failed token request without repeating secrets.
func tokenError(tokenURL, clientID string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		code := re.Response.StatusCode
		detail := strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
		if detail == "" {
			detail = http.StatusText(code)
		}
		if code == http.StatusBadRequest || code == http.StatusUnauthorized {
			hint := ": check client_id, that the app's client authentication is \"Public key / Private key\" with this key registered, and the granted scopes"
			return fmt.Errorf("okta: token request to %s as client %q refused (%d %s)%s: %w", tokenURL, clientID, code, detail, hint, ErrAuth)
		}
		// A rate limit or a server error is not a refusal of the
		// credentials (not ErrAuth): an outage like any other.
		hint := ""
		if code == http.StatusTooManyRequests {
			hint = ": the token endpoint is rate limited"
		}
		return fmt.Errorf("okta: token request to %s as client %q failed (%d %s)%s", tokenURL, clientID, code, detail, hint)
	}
	return fmt.Errorf("okta: token request to %s: %w", tokenURL, err)
}

// ErrAuth marks a refusal of zapgate's own credentials by Okta (token
// request refused, API answered 401 or 403); it is always wrapped together
// with idp.ErrUnavailable.
var ErrAuth = errors.New("okta: credentials refused")

// signingKey is the service app's private key.
type signingKey struct {
	key any
	alg jose.SignatureAlgorithm
	kid string
}

// assertion signs a client assertion for clientID: iss and sub are the
// client id, aud the token URL, jti random, exp AssertionLifetime ahead.
func (k signingKey) assertion(clientID, aud string, now time.Time) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer:   clientID,
		Subject:  clientID,
		Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(AssertionLifetime)),
		ID:       hex.EncodeToString(jti),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// loadSigningKey reads a PEM or JWK private key file; kid overrides the
// JWK's key id.
func loadSigningKey(file, kid string) (signingKey, error) {
	b, err := readSecretFile("private_key_file", file)
	if err != nil {
		return signingKey{}, err
	}
	k, err := parseSigningKey(b)
	if err != nil {
		return signingKey{}, fmt.Errorf("okta: private_key_file %s: %w", file, err)
	}
	if kid != "" {
		k.kid = kid
	}
	return k, nil
}

// parseSigningKey parses a PEM (PKCS#1, SEC 1, PKCS#8) or JWK private key.
func parseSigningKey(b []byte) (signingKey, error) {
	var key any
	var kid string
	if block, _ := pem.Decode(b); block != nil {
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		default:
			return signingKey{}, fmt.Errorf("PEM block %q is not a private key", block.Type)
		}
		if err != nil {
			return signingKey{}, err
		}
	} else {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(b); err != nil {
			return signingKey{}, fmt.Errorf("neither PEM nor a JWK: %w", err)
		}
		if jwk.IsPublic() {
			return signingKey{}, errors.New("the JWK is a public key; the private key is needed")
		}
		key, kid = jwk.Key, jwk.KeyID
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return signingKey{}, fmt.Errorf("RSA key of %d bits: at least 2048 are required", k.N.BitLen())
		}
		return signingKey{key: k, alg: jose.RS256, kid: kid}, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return signingKey{key: k, alg: jose.ES256, kid: kid}, nil
		case elliptic.P384():
			return signingKey{key: k, alg: jose.ES384, kid: kid}, nil
		case elliptic.P521():
			return signingKey{key: k, alg: jose.ES512, kid: kid}, nil
		}
		return signingKey{}, errors.New("EC key on an unsupported curve (P-256, P-384 or P-521)")
	}
	return signingKey{}, fmt.Errorf("unsupported key type %T (RSA or EC)", key)
}
