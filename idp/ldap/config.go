package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Flavours.
const (
	FlavourAD      = "ad"
	FlavourGeneric = "generic"
)

// Group modes.
const (
	GroupsMemberOf    = "memberof"
	GroupsWalk        = "walk"
	GroupsInChain     = "inchain"
	GroupsTokenGroups = "tokengroups"
)

// Defaults applied by Validate's normalised copy (the caller's Config is
// never modified).
const (
	DefaultTimeout        = 10 * time.Second
	DefaultConnectTimeout = 2 * time.Second // and never more than Timeout
	DefaultPoolSize       = 4
	DefaultPageSize       = 500
	DefaultADFilter       = "(&(objectClass=user)(|(sAMAccountName=%s)(userPrincipalName=%s)))"
	DefaultGenericFilter  = "(uid=%s)"
	DefaultWalkFilter     = "(|(member=%s)(uniqueMember=%s))"
	DefaultMaxWalkDepth   = 32
	DefaultKeyAttribute   = "altSecurityIdentities"
	DefaultKeyPrefix      = "CURVE:"
	defaultHealthCheckAge = 30 * time.Second // see Config.HealthCheckAfter
)

// Config configures a Directory. The zero value is not valid: at least URLs
// and BaseDN are required. See the package documentation for a YAML example.
type Config struct {
	// URLs are ldap:// or ldaps:// server URLs, tried in order: when one
	// cannot be reached or does not connect within ConnectTimeout, the next
	// is tried.
	URLs []string `yaml:"urls"`
	// StartTLS upgrades ldap:// connections with the StartTLS extended
	// operation before binding. Ignored for ldaps:// URLs.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM file of CA certificates that verify the server; empty
	// means the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name checked in the server certificate;
	// empty means the host of each URL.
	ServerName string `yaml:"server_name"`
	// InsecureNoTLS explicitly allows binds and searches over plain ldap://
	// without StartTLS. Off by default: security invariant 7.
	InsecureNoTLS bool `yaml:"insecure_no_tls"`
	// BindDN is the service account that searches the directory; empty
	// means an anonymous bind.
	BindDN string `yaml:"bind_dn"`
	// BindPassword is the service account's password. The config loader
	// reads it from a file or environment variable (see ReadSecret); it is
	// never logged and never appears in errors.
	BindPassword string `yaml:"-"`
	// Timeout bounds each LDAP operation (a search, a read), on the client
	// and as the server-side time limit, on whichever server answered; the
	// caller's context, when it has a deadline, bounds the whole Lookup.
	// Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// ConnectTimeout is each URL's own budget for connecting (dial, TLS
	// handshake, StartTLS, bind), started afresh for every URL, so that a
	// server that accepts TCP but never answers costs ConnectTimeout and
	// leaves the next server its whole budget. Default 2s, and never more
	// than Timeout.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// PoolSize is the number of idle bound connections kept for reuse.
	// Default 4.
	PoolSize int `yaml:"pool_size"`
	// HealthCheckAfter is how long a pooled connection may sit idle before
	// it is checked (a root DSE read) on reuse. Default 30s.
	HealthCheckAfter time.Duration `yaml:"health_check_after"`
	// BaseDN is the subtree searched for principals; a DN principal must lie
	// inside it.
	BaseDN string `yaml:"base_dn"`
	// PrincipalFilter is the search filter template; every %s is replaced by
	// the escaped principal. Default for "ad":
	// (&(objectClass=user)(|(sAMAccountName=%s)(userPrincipalName=%s))),
	// which finds users and computers but not groups (which also have a
	// sAMAccountName); for "generic": (uid=%s).
	PrincipalFilter string `yaml:"principal_filter"`
	// Flavour is "ad" (Active Directory, the default) or "generic".
	Flavour string `yaml:"flavour"`
	// GroupMode is how groups are resolved: "inchain" or "tokengroups" for
	// AD (default "inchain"), "memberof" or "walk" for generic (default
	// "memberof"). "memberof" and "walk" also work against AD.
	GroupMode string `yaml:"group_mode"`
	// GroupBase is the subtree searched for groups by "walk", "inchain" and
	// "tokengroups". Default BaseDN.
	GroupBase string `yaml:"group_base"`
	// GroupFilter is the "walk" filter template that finds the groups with a
	// given member DN (%s, escaped). Default
	// (|(member=%s)(uniqueMember=%s)).
	GroupFilter string `yaml:"group_filter"`
	// DisplayAttr is the attribute used as DisplayName. Default
	// "displayName" for "ad", "cn" for "generic".
	DisplayAttr string `yaml:"display_attr"`
	// PageSize is the paged-results page size for group searches.
	// Default 500.
	PageSize uint32 `yaml:"page_size"`
	// MaxWalkDepth limits the nesting followed by "walk". Default 32.
	MaxWalkDepth int `yaml:"max_walk_depth"`
	// KeyAttribute is the attribute that holds a node's CURVE public key
	// in key-in-directory mode (FindByKey). Default
	// "altSecurityIdentities".
	KeyAttribute string `yaml:"key_attribute"`
	// KeyPrefix precedes the 40-character Z85 public key in a
	// KeyAttribute value. Default "CURVE:".
	KeyPrefix string `yaml:"key_prefix"`
	// PrincipalAttr is the attribute whose value FindByKey returns as the
	// principal. Default "sAMAccountName" for "ad", "uid" for "generic".
	PrincipalAttr string `yaml:"principal_attr"`
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	c.URLs = append([]string(nil), c.URLs...)
	if c.Flavour == "" {
		c.Flavour = FlavourAD
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = min(DefaultConnectTimeout, c.Timeout)
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.HealthCheckAfter == 0 {
		c.HealthCheckAfter = defaultHealthCheckAge
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.MaxWalkDepth == 0 {
		c.MaxWalkDepth = DefaultMaxWalkDepth
	}
	if c.GroupBase == "" {
		c.GroupBase = c.BaseDN
	}
	if c.GroupFilter == "" {
		c.GroupFilter = DefaultWalkFilter
	}
	if c.KeyAttribute == "" {
		c.KeyAttribute = DefaultKeyAttribute
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	switch c.Flavour {
	case FlavourAD:
		if c.PrincipalFilter == "" {
			c.PrincipalFilter = DefaultADFilter
		}
		if c.GroupMode == "" {
			c.GroupMode = GroupsInChain
		}
		if c.DisplayAttr == "" {
			c.DisplayAttr = "displayName"
		}
		if c.PrincipalAttr == "" {
			c.PrincipalAttr = "sAMAccountName"
		}
	case FlavourGeneric:
		if c.PrincipalFilter == "" {
			c.PrincipalFilter = DefaultGenericFilter
		}
		if c.GroupMode == "" {
			c.GroupMode = GroupsMemberOf
		}
		if c.DisplayAttr == "" {
			c.DisplayAttr = "cn"
		}
		if c.PrincipalAttr == "" {
			c.PrincipalAttr = "uid"
		}
	}
	return c
}

// Validate reports the first problem with c (after defaults), or nil.
func (c Config) Validate() error {
	_, err := c.normalize()
	return err
}

// normalize validates c and returns the defaulted copy.
func (c Config) normalize() (Config, error) {
	n := c.withDefaults()
	if len(n.URLs) == 0 {
		return n, errors.New("ldap: config: at least one url is required")
	}
	for _, raw := range n.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return n, fmt.Errorf("ldap: config: url %q: %w", raw, err)
		}
		switch u.Scheme {
		case "ldaps":
		case "ldap":
			if !n.StartTLS && !n.InsecureNoTLS {
				return n, fmt.Errorf("ldap: config: url %q is plain ldap: set start_tls, use ldaps://, or explicitly allow insecure_no_tls", raw)
			}
		default:
			return n, fmt.Errorf("ldap: config: url %q: scheme must be ldap or ldaps", raw)
		}
		if u.Hostname() == "" {
			return n, fmt.Errorf("ldap: config: url %q has no host", raw)
		}
	}
	if n.Flavour != FlavourAD && n.Flavour != FlavourGeneric {
		return n, fmt.Errorf("ldap: config: flavour %q: must be %q or %q", n.Flavour, FlavourAD, FlavourGeneric)
	}
	switch n.GroupMode {
	case GroupsMemberOf, GroupsWalk:
	case GroupsInChain, GroupsTokenGroups:
		if n.Flavour != FlavourAD {
			return n, fmt.Errorf("ldap: config: group_mode %q needs flavour %q", n.GroupMode, FlavourAD)
		}
	default:
		return n, fmt.Errorf("ldap: config: group_mode %q: must be memberof, walk, inchain or tokengroups", n.GroupMode)
	}
	if n.BaseDN == "" {
		return n, errors.New("ldap: config: base_dn is required")
	}
	// In a fixed order: group_base defaults to base_dn, whose error
	// should be the one reported.
	for _, f := range [][2]string{{"base_dn", n.BaseDN}, {"group_base", n.GroupBase}} {
		if _, err := goldap.ParseDN(f[1]); err != nil {
			return n, fmt.Errorf("ldap: config: %s %q: %w", f[0], f[1], err)
		}
	}
	if n.BindDN != "" {
		if _, err := goldap.ParseDN(n.BindDN); err != nil {
			return n, fmt.Errorf("ldap: config: bind_dn %q: %w", n.BindDN, err)
		}
	}
	if n.BindDN != "" && n.BindPassword == "" {
		return n, errors.New("ldap: config: bind_dn is set but the bind password is empty")
	}
	if err := checkTemplate("principal_filter", n.PrincipalFilter); err != nil {
		return n, err
	}
	if err := checkTemplate("group_filter", n.GroupFilter); err != nil {
		return n, err
	}
	for _, f := range [][2]string{{"key_attribute", n.KeyAttribute}, {"principal_attr", n.PrincipalAttr}} {
		if !validAttr(f[1]) {
			return n, fmt.Errorf("ldap: config: %s %q is not an attribute name", f[0], f[1])
		}
	}
	if n.Timeout < 0 || n.ConnectTimeout < 0 || n.PoolSize < 0 || n.MaxWalkDepth < 0 || n.HealthCheckAfter < 0 {
		return n, errors.New("ldap: config: timeout, connect_timeout, pool_size, health_check_after and max_walk_depth must not be negative")
	}
	if n.CAFile != "" {
		if _, err := loadCA(n.CAFile); err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkTemplate checks that a filter template has a %s placeholder and
// compiles once filled in.
func checkTemplate(name, tmpl string) error {
	if !strings.Contains(tmpl, "%s") {
		return fmt.Errorf("ldap: config: %s %q has no %%s placeholder", name, tmpl)
	}
	if _, err := goldap.CompileFilter(fillFilter(tmpl, "x")); err != nil {
		return fmt.Errorf("ldap: config: %s %q: %w", name, tmpl, err)
	}
	return nil
}

// validAttr reports whether s is an attribute description: a name of
// letters, digits and hyphens starting with a letter, or a numeric OID.
func validAttr(s string) bool {
	if s == "" {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		for _, r := range s {
			if (r < '0' || r > '9') && r != '.' {
				return false
			}
		}
		return true
	}
	if c := s[0] | 0x20; c < 'a' || c > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// loadCA reads a PEM bundle into a pool.
func loadCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ldap: config: ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ldap: config: ca_file %s: no PEM certificates", file)
	}
	return pool, nil
}

// tlsConfig builds the client TLS config for host (TLS 1.2 minimum).
func (c Config) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if c.ServerName != "" {
		tc.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pool, err := loadCA(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// ReadSecret returns a secret from exactly one of a file (trailing newline
// trimmed) or an environment variable. It never includes the secret in an
// error. A file readable by group or others is refused.
func ReadSecret(file, env string) (string, error) {
	switch {
	case file != "" && env != "":
		return "", errors.New("ldap: secret: set a file or an environment variable, not both")
	case file != "":
		st, err := os.Stat(file)
		if err != nil {
			return "", fmt.Errorf("ldap: secret: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("ldap: secret: %s is accessible by group or others (mode %04o): chmod 600 it", file, st.Mode().Perm())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("ldap: secret: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("ldap: secret: %s is empty", file)
		}
		return s, nil
	case env != "":
		s, ok := os.LookupEnv(env)
		if !ok || s == "" {
			return "", fmt.Errorf("ldap: secret: environment variable %s is unset or empty", env)
		}
		return s, nil
	}
	return "", nil
}
