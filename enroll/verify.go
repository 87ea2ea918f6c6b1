package enroll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
)

// maxTokenBytes bounds an ID token.
const maxTokenBytes = 16 << 10

// maxGroups bounds the groups taken from a token.
const maxGroups = 1024

// person is who a verified ID token names.
type person struct {
	name    string // the principal claim
	issuer  string
	subject string
	expiry  time.Time
	groups  []string // from the token, prefixed; nil when groups come from the directory
	hash    string   // hex SHA-256 of the signed claims: the replay key
	rawHash string   // hex SHA-256 of the raw token: the replay key of earlier versions, still honoured
}

// tokenError is why an ID token was refused: Reason is one of expired,
// audience, issuer, signature, malformed, not-yet-valid, claims.
type tokenError struct {
	Reason string
	Detail string
}

func (e *tokenError) Error() string { return e.Reason + ": " + e.Detail }

// errProvider marks a failure to reach the OpenID provider (discovery or
// its keys): nothing was decided.
var errProvider = errors.New("openid provider unavailable")

// verifier checks ID tokens against the issuer. The provider's discovery
// document is fetched on first use (and again after a failure), so the
// broker starts while the provider is unreachable.
type verifier struct {
	issuer, clientID string
	principalClaim   string
	groupsClaim      string
	groupsPrefix     string
	tokenGroups      bool
	client           *http.Client
	now              func() time.Time

	mu sync.Mutex
	v  *oidc.IDTokenVerifier
}

// get returns the token verifier, running discovery when needed.
func (vf *verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	vf.mu.Lock()
	defer vf.mu.Unlock()
	if vf.v != nil {
		return vf.v, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(dctx, vf.client), vf.issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %v", errProvider, vf.issuer, err)
	}
	jwks := providerJWKS(p)
	if err := secureURL(vf.issuer, jwks); err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: jwks_uri %q: %v", errProvider, vf.issuer, jwks, err)
	}
	// The keys are refetched on an unknown key ID only, within a bound
	// (keyset.go); the client's timeout bounds each fetch.
	keys := newKeySet(jwks, vf.client, vf.now)
	vf.v = oidc.NewVerifier(vf.issuer, keys, &oidc.Config{ClientID: vf.clientID, Now: vf.now, SupportedSigningAlgs: providerAlgs(p)})
	return vf.v, nil
}

// providerJWKS returns the jwks_uri of the discovery document.
func providerJWKS(p *oidc.Provider) string {
	var c struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&c)
	return c.JWKS
}

// secureURL checks a URL the provider's keys are fetched from: https, or
// plain http only while the issuer itself is a plain-http loopback URL
// (tests). Keys fetched in the clear could be anyone's keys.
func secureURL(issuer, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if iu, err := url.Parse(issuer); err == nil && iu.Scheme == "http" && isLoopback(u.Hostname()) {
			return nil
		}
	}
	return errors.New("the provider's keys must be fetched over https")
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// noDowngrade is an http.Client CheckRedirect that refuses a redirect
// from https to anything else, and long redirect chains.
func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect from https to %s", req.URL.Redacted())
	}
	return nil
}

// providerAlgs returns the signing algorithms the discovery document
// announces that go-oidc supports (nil: RS256).
func providerAlgs(p *oidc.Provider) []string {
	var c struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = p.Claims(&c)
	var out []string
	for _, a := range c.Algs {
		switch a {
		case "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA":
			out = append(out, a)
		}
	}
	return out
}

// verify checks raw and returns the person it names. A refusal is a
// *tokenError; an error wrapping errProvider is a technical failure.
func (vf *verifier) verify(ctx context.Context, raw string) (*person, error) {
	if raw == "" || len(raw) > maxTokenBytes || strings.Count(raw, ".") != 2 {
		return nil, &tokenError{"malformed", "not a signed JWT (three base64url parts separated by '.')"}
	}
	v, err := vf.get(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, classify(err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, &tokenError{"claims", err.Error()}
	}
	if e := vf.checkAZP(tok.Audience, claims); e != nil {
		return nil, e
	}
	// The replay key is the hash of the signed claims, not of the raw
	// text: the same token re-encoded (spare base64 bits, an ECDSA
	// signature's s replaced by n-s) verifies just the same.
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return nil, &tokenError{"claims", err.Error()}
	}
	sum, rawSum := sha256.Sum256(payload), sha256.Sum256([]byte(raw))
	p := &person{issuer: tok.Issuer, subject: tok.Subject, expiry: tok.Expiry,
		hash: hex.EncodeToString(sum[:]), rawHash: hex.EncodeToString(rawSum[:])}
	if p.subject == "" {
		return nil, &tokenError{"claims", "the token has no sub claim"}
	}
	name, ok := claims[vf.principalClaim].(string)
	if !ok || strings.TrimSpace(name) == "" || len(name) > 256 || strings.ContainsFunc(name, isControl) {
		return nil, &tokenError{"claims", fmt.Sprintf("the token's %s claim must be a non-empty string (the person's name in the policy)", vf.principalClaim)}
	}
	if vf.principalClaim == "email" {
		if verified, present := claims["email_verified"]; present && verified != true {
			return nil, &tokenError{"claims", "the token's email is not verified (email_verified is not true)"}
		}
	}
	p.name = strings.TrimSpace(name)
	if vf.tokenGroups {
		if p.groups, err = vf.groups(claims); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkAZP applies OpenID Connect Core 3.1.3.7 (steps 4 and 5): a token
// with several audiences must name its authorized party, and an azp claim
// must be zapgate's client, so a token issued to another client that only
// lists zapgate among its audiences is refused.
func (vf *verifier) checkAZP(aud []string, claims map[string]any) *tokenError {
	azp, present := claims["azp"]
	switch {
	case present && azp != vf.clientID:
		return &tokenError{"audience", fmt.Sprintf("the token was issued to another client (azp is not %q)", vf.clientID)}
	case !present && len(aud) > 1:
		return &tokenError{"audience", fmt.Sprintf("the token has %d audiences and no azp claim naming %q", len(aud), vf.clientID)}
	}
	return nil
}

// groups reads the groups claim: a list of strings or a single string;
// absent means no groups.
func (vf *verifier) groups(claims map[string]any) ([]string, error) {
	bad := &tokenError{"claims", fmt.Sprintf("the token's %s claim must be a list of group names (at most %d)", vf.groupsClaim, maxGroups)}
	var names []string
	switch g := claims[vf.groupsClaim].(type) {
	case nil:
		return []string{}, nil
	case string:
		names = []string{g}
	case []any:
		if len(g) > maxGroups {
			return nil, bad
		}
		for _, x := range g {
			s, ok := x.(string)
			if !ok {
				return nil, bad
			}
			names = append(names, s)
		}
	default:
		return nil, bad
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n == "" || len(n) > 512 || strings.ContainsFunc(n, isControl) {
			return nil, bad
		}
		out = append(out, vf.groupsPrefix+n)
	}
	return out, nil
}

// classify turns go-oidc's verification error into a refusal, or a
// provider failure when its keys could not be fetched.
func classify(err error) error {
	msg := err.Error()
	var exp *oidc.TokenExpiredError
	switch {
	case errors.As(err, &exp):
		return &tokenError{"expired", fmt.Sprintf("the ID token expired at %s", exp.Expiry.UTC().Format(time.RFC3339))}
	case strings.Contains(msg, "fetching keys"):
		return fmt.Errorf("%w: %v", errProvider, err)
	case strings.Contains(msg, "issued by a different provider"):
		return &tokenError{"issuer", msg}
	case strings.Contains(msg, "expected audience"):
		return &tokenError{"audience", msg}
	case strings.Contains(msg, "before the nbf"):
		return &tokenError{"not-yet-valid", msg}
	case strings.Contains(msg, "failed to verify signature"), strings.Contains(msg, "not signed"),
		strings.Contains(msg, "multiple signatures"):
		return &tokenError{"signature", msg}
	}
	return &tokenError{"malformed", msg}
}

// isControl reports the characters refused in names: C0 and C1 controls
// (a terminal acts on them when a record is printed), the line and
// paragraph separators, and the bidirectional controls that make a name
// display as another.
func isControl(r rune) bool {
	return unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r)
}

// equalFold compares names case-insensitively.
func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
