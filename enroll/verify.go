package enroll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

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
	hash    string   // hex SHA-256 of the raw token: the replay key
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
	// The key set keeps its context to refetch keys on an unknown key ID:
	// no deadline on it (the client's timeout bounds each fetch).
	pctx := oidc.ClientContext(context.Background(), vf.client)
	keys := oidc.NewRemoteKeySet(pctx, providerJWKS(p))
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
	sum := sha256.Sum256([]byte(raw))
	p := &person{issuer: tok.Issuer, subject: tok.Subject, expiry: tok.Expiry, hash: hex.EncodeToString(sum[:])}
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

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// equalFold compares names case-insensitively.
func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
