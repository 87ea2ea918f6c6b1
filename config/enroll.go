package config

import (
	"net"
	"net/url"
	"slices"
	"time"
)

// Enroll configures identity-verified key enrollment: the broker's
// /v1/enroll endpoints on the admin listener (which must then use TLS).
// See docs/enrollment.md.
//
//	enroll:
//	  enabled: true
//	  issuer: https://corp.okta.com/oauth2/default
//	  client_id: 0oa1zapgateenroll
//	  groups_from: token          # or directory
//	  state_dir: /var/lib/zapgate/enroll
//	admin:
//	  listen: 0.0.0.0:9750
//	  tls_cert_file: /etc/zapgate/admin.crt
//	  tls_key_file: /etc/zapgate/admin.key
type Enroll struct {
	// Enabled serves the enrollment endpoints (default false).
	Enabled bool `yaml:"enabled"`
	// Issuer is the OpenID provider's issuer URL; its discovery document
	// and signing keys are fetched from it. https is required except on
	// a loopback host.
	Issuer string `yaml:"issuer"`
	// ClientID is the OAuth client the enrollment CLI uses: ID tokens must
	// name it in their audience.
	ClientID string `yaml:"client_id"`
	// Scopes are what the CLI asks for (default openid, profile, email,
	// groups); they must include openid.
	Scopes []string `yaml:"scopes"`
	// GroupsClaim is the ID token claim listing the person's groups
	// (default "groups"), used when GroupsFrom is "token".
	GroupsClaim string `yaml:"groups_claim"`
	// GroupsPrefix is put before each group name of the token so that it
	// matches the policy's group names (default "okta:"; "" keeps the
	// names as they are).
	GroupsPrefix string `yaml:"groups_prefix"`
	// GroupsFrom is where the person's groups come from: "token" (the
	// groups claim, the default) or "directory" (the configured directory,
	// looked up by the PrincipalClaim value).
	GroupsFrom string `yaml:"groups_from"`
	// PrincipalClaim is the claim that names the person in the policy and
	// in audit records (default "email"; an email must be verified).
	PrincipalClaim string `yaml:"principal_claim"`
	// StateDir keeps the used-token store and the requests waiting for a
	// second approval (default /var/lib/zapgate/enroll; created 0700).
	StateDir string `yaml:"state_dir"`
	// PendingTTL is how long a request waits for its second approval
	// (default 24h).
	PendingTTL time.Duration `yaml:"pending_ttl"`
	// CAFile holds extra PEM certificates trusted for the issuer's TLS
	// (optional; the system roots are always trusted).
	CAFile string `yaml:"ca_file"`
	// RateLimit limits requests per source address (429 beyond it).
	RateLimit EnrollRateLimit `yaml:"rate_limit"`
}

func enrollDefaults() Enroll {
	return Enroll{
		Scopes:         []string{"openid", "profile", "email", "groups"},
		GroupsClaim:    "groups",
		GroupsPrefix:   "okta:",
		GroupsFrom:     "token",
		PrincipalClaim: "email",
		StateDir:       "/var/lib/zapgate/enroll",
		PendingTTL:     24 * time.Hour,
		RateLimit:      enrollRateLimitDefaults(),
	}
}

// validateEnroll checks the enroll section and what it needs elsewhere: a TLS
// admin listener and keys bound in the registry.
func (c *Config) validateEnroll(bad func(path, format string, args ...any)) {
	a := c.Admin
	if (a.TLSCertFile == "") != (a.TLSKeyFile == "") {
		bad("admin", "admin.tls_cert_file and admin.tls_key_file go together; set both or neither")
	}
	e := c.Enroll
	if !e.Enabled {
		return
	}
	switch {
	case a.Listen == "":
		bad("enroll.enabled", "enroll.enabled needs admin.listen: the enrollment endpoints are served on the admin listener")
	case a.TLSCertFile == "" || a.TLSKeyFile == "":
		bad("enroll.enabled", "enroll.enabled needs admin.tls_cert_file and admin.tls_key_file: enrollment is served over HTTPS only")
	}
	if c.Keys.Source == "directory" {
		bad("enroll.enabled", "enroll.enabled needs keys.source registry: with keys.source directory the keys live on the directory accounts, so enroll there")
	}
	if msg := issuerProblem(e.Issuer); msg != "" {
		bad("enroll.issuer", "enroll.issuer %s", msg)
	}
	if e.ClientID == "" {
		bad("enroll.client_id", "enroll.client_id must name the OAuth client whose ID tokens are accepted (their audience)")
	}
	if !slices.Contains(e.Scopes, "openid") {
		bad("enroll.scopes", "enroll.scopes must include openid")
	}
	switch e.GroupsFrom {
	case "token":
		if e.GroupsClaim == "" {
			bad("enroll.groups_claim", "enroll.groups_claim must name a claim when groups_from is token")
		}
	case "directory":
	default:
		bad("enroll.groups_from", "enroll.groups_from must be token or directory, not %q", e.GroupsFrom)
	}
	if e.PrincipalClaim == "" {
		bad("enroll.principal_claim", "enroll.principal_claim must name a claim (e.g. email)")
	}
	if e.StateDir == "" {
		bad("enroll.state_dir", "enroll.state_dir must name a directory")
	}
	if e.PendingTTL <= 0 {
		bad("enroll.pending_ttl", "enroll.pending_ttl must be positive, not %s", e.PendingTTL)
	}
	e.RateLimit.validate(bad)
}

// issuerProblem checks an issuer URL: absolute, https unless the host is
// a loopback address or localhost, no query or fragment.
func issuerProblem(s string) string {
	if s == "" {
		return "must be the OpenID provider's issuer URL"
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "must be an absolute URL without query or fragment, not " + quote(s)
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
		return "must use https (http is accepted for a loopback host only), not " + quote(s)
	}
	return "must be an https URL, not " + quote(s)
}

func quote(s string) string { return `"` + s + `"` }
