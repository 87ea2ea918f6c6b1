package okta

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Defaults applied by New's normalised copy (the caller's Config is never
// modified).
const (
	// DefaultTimeout is the default Config.Timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConcurrent is the default Config.MaxConcurrent.
	DefaultMaxConcurrent = 4
	// DefaultMaxRateLimitWait is the default Config.MaxRateLimitWait.
	DefaultMaxRateLimitWait = 30 * time.Second
	// PageLimit is the page size asked of list endpoints (limit=200, the
	// maximum Okta allows for a user's groups).
	PageLimit = 200
)

// DefaultScopes are the OAuth 2.0 scopes asked for when Config.Scopes is
// empty: read users and read groups, nothing else.
var DefaultScopes = []string{"okta.users.read", "okta.groups.read"}

// Config configures a Directory. Exactly one of the two authentication
// modes must be set: OAuth 2.0 client credentials with private_key_jwt
// (ClientID and PrivateKeyFile) or an SSWS API token (APITokenFile or
// APITokenEnv). See the package documentation for a YAML example.
type Config struct {
	// OrgURL is the Okta organisation, e.g. https://example.okta.com
	// (scheme and host only; https is required).
	OrgURL string `yaml:"org_url"`
	// CAFile is a PEM file of CA certificates that verify Okta's
	// certificate; empty means the system roots.
	CAFile string `yaml:"ca_file"`
	// ClientID is the API service app's client id (OAuth mode).
	ClientID string `yaml:"client_id"`
	// PrivateKeyFile is the service app's private key (OAuth mode): a PEM
	// RSA or EC key (PKCS#1, SEC 1 or PKCS#8) or a private JWK as JSON.
	// The file must not be accessible by group or others.
	PrivateKeyFile string `yaml:"private_key_file"`
	// KeyID is the "kid" placed in the assertion header; optional (Okta
	// tries every registered key), default the JWK's kid if it has one.
	KeyID string `yaml:"key_id"`
	// Scopes are the OAuth scopes requested. Default
	// okta.users.read okta.groups.read.
	Scopes []string `yaml:"scopes"`
	// APITokenFile is a file holding an SSWS API token (the alternative
	// to OAuth; mode 0600).
	APITokenFile string `yaml:"api_token_file"`
	// APITokenEnv names an environment variable holding an SSWS API token.
	APITokenEnv string `yaml:"api_token_env"`
	// KeyAttribute is the user profile attribute that holds a node's Z85
	// CURVE public key in key-in-directory mode (FindByKey); empty turns
	// the mode off.
	KeyAttribute string `yaml:"key_attribute"`
	// Timeout bounds each HTTP request (token or API); the caller's
	// context bounds the whole Lookup. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrent caps the requests in flight to Okta. Default 4.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxRateLimitWait bounds how long one request waits for a rate-limit
	// window to reset (after a 429, or when X-Rate-Limit-Remaining reached
	// 0) before failing as unavailable. Default 30s.
	MaxRateLimitWait time.Duration `yaml:"max_rate_limit_wait"`
}

// Authentication modes.
const (
	modeOAuth = "oauth"
	modeSSWS  = "ssws"
)

// attrName is an Okta profile attribute variable name.
var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// scopeName is one OAuth scope token (RFC 6749 section 3.3).
var scopeName = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]+$`)

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	c.OrgURL = strings.TrimRight(c.OrgURL, "/")
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes
	}
	c.Scopes = append([]string(nil), c.Scopes...)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MaxRateLimitWait == 0 {
		c.MaxRateLimitWait = DefaultMaxRateLimitWait
	}
	return c
}

// mode returns the authentication mode ("" when none or both are set).
func (c Config) mode() string {
	oauth := c.ClientID != "" || c.PrivateKeyFile != "" || c.KeyID != ""
	ssws := c.APITokenFile != "" || c.APITokenEnv != ""
	switch {
	case oauth && !ssws:
		return modeOAuth
	case ssws && !oauth:
		return modeSSWS
	}
	return ""
}

// Validate reports the first problem with c (after defaults), or nil. It
// does not read the key, token or CA files: New does.
func (c Config) Validate() error {
	_, err := c.normalize()
	return err
}

// normalize validates c and returns the defaulted copy.
func (c Config) normalize() (Config, error) {
	n := c.withDefaults()
	if n.OrgURL == "" {
		return n, errors.New("okta: config: org_url is required")
	}
	u, err := url.Parse(n.OrgURL)
	if err != nil {
		return n, fmt.Errorf("okta: config: org_url %q: %w", n.OrgURL, err)
	}
	if u.Scheme != "https" {
		return n, fmt.Errorf("okta: config: org_url %q: scheme must be https", n.OrgURL)
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return n, fmt.Errorf("okta: config: org_url %q must be https://HOST[:PORT] only", n.OrgURL)
	}
	switch n.mode() {
	case modeOAuth:
		if n.ClientID == "" || n.PrivateKeyFile == "" {
			return n, errors.New("okta: config: OAuth mode needs both client_id and private_key_file")
		}
		for _, s := range n.Scopes {
			if !scopeName.MatchString(s) {
				return n, fmt.Errorf("okta: config: scope %q is not a scope name", s)
			}
		}
	case modeSSWS:
		if n.APITokenFile != "" && n.APITokenEnv != "" {
			return n, errors.New("okta: config: set api_token_file or api_token_env, not both")
		}
		if len(c.Scopes) > 0 {
			return n, errors.New("okta: config: scopes apply to OAuth mode (client_id), not to an API token")
		}
	default:
		if c.ClientID == "" && c.PrivateKeyFile == "" && c.APITokenFile == "" && c.APITokenEnv == "" {
			return n, errors.New("okta: config: no authentication: set client_id and private_key_file (OAuth, recommended) or api_token_file / api_token_env (SSWS)")
		}
		return n, errors.New("okta: config: set exactly one authentication mode: client_id and private_key_file (OAuth), or api_token_file / api_token_env (SSWS), not both")
	}
	if n.KeyAttribute != "" && !attrName.MatchString(n.KeyAttribute) {
		return n, fmt.Errorf("okta: config: key_attribute %q is not a profile attribute name (letters, digits, _; starting with a letter)", n.KeyAttribute)
	}
	if n.Timeout < 0 || n.MaxConcurrent < 0 || n.MaxRateLimitWait < 0 {
		return n, errors.New("okta: config: timeout, max_concurrent and max_rate_limit_wait must not be negative")
	}
	return n, nil
}

// tlsConfig builds the client TLS config (TLS 1.2 minimum).
func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("okta: config: ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("okta: config: ca_file %s: no PEM certificates", c.CAFile)
	}
	tc.RootCAs = pool
	return tc, nil
}

// readSecretFile reads a secret file, refusing one accessible by group or
// others; it never includes the content in an error.
func readSecretFile(what, file string) ([]byte, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("okta: %s: %w", what, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("okta: %s: %s is accessible by group or others (mode %04o): chmod 600 it", what, file, st.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("okta: %s: %w", what, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fmt.Errorf("okta: %s: %s is empty", what, file)
	}
	return b, nil
}

// readAPIToken returns the SSWS token from its file or variable.
func (c Config) readAPIToken() (string, error) {
	if c.APITokenFile != "" {
		b, err := readSecretFile("api_token_file", c.APITokenFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	s, ok := os.LookupEnv(c.APITokenEnv)
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return "", fmt.Errorf("okta: api_token_env: environment variable %s is unset or empty", c.APITokenEnv)
	}
	return s, nil
}
