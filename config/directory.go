package config

import (
	"time"

	"github.com/zapgate/zapgate/idp/ldap"
	"github.com/zapgate/zapgate/idp/okta"
	"go.yaml.in/yaml/v3"
)

// Directory chooses and configures the identity source.
//
//	directory:
//	  type: ldap
//	  ldap:
//	    urls: [ldaps://dc1.corp.example.com, ldaps://dc2.corp.example.com]
//	    ca_file: /etc/zapgate/corp-ca.pem
//	    bind_dn: CN=svc-zapgate,OU=Service Accounts,DC=corp,DC=example,DC=com
//	    bind_password_file: /etc/zapgate/ldap-password   # mode 0600
//	    base_dn: DC=corp,DC=example,DC=com
//	    flavour: ad
//	    group_mode: inchain
//	  cache:
//	    ttl: 5m
//	    negative_ttl: 30s
//	    stale_grace: 15m
type Directory struct {
	// Type is the backend: "static" (a YAML file; the default), "ldap"
	// (Active Directory or a generic LDAP server) or "okta" (Okta's
	// management API).
	Type string `yaml:"type"`
	// Static configures the static YAML directory.
	Static StaticDirectory `yaml:"static"`
	// LDAP configures the LDAP / Active Directory backend.
	LDAP LDAPDirectory `yaml:"ldap"`
	// Okta configures the Okta backend.
	Okta OktaDirectory `yaml:"okta"`
	// Cache configures the cache in front of remote directories (ldap,
	// okta).
	Cache DirectoryCache `yaml:"cache"`
}

// StaticDirectory configures the static YAML directory.
type StaticDirectory struct {
	// File is the directory file (default /etc/zapgate/directory.yaml).
	File string `yaml:"file"`
}

// LDAPDirectory is the LDAP backend's configuration plus where its bind
// password comes from (never inline).
type LDAPDirectory struct {
	// Config is the backend's settings; see idp/ldap.Config.
	ldap.Config `yaml:",inline"`
	// BindPasswordFile holds the service account's password (mode 0600).
	BindPasswordFile string `yaml:"bind_password_file"`
	// BindPasswordEnv names an environment variable holding the password.
	BindPasswordEnv string `yaml:"bind_password_env"`
}

// OktaDirectory is the Okta backend's configuration; its secrets (the
// private key, or an API token) are named by file or environment
// variable, never inline. See idp/okta.Config.
type OktaDirectory struct {
	// Config is the backend's settings.
	okta.Config `yaml:",inline"`
}

// DirectoryCache configures the cache in front of a remote directory.
// Zero values take the cache's defaults (5m, 30s, 15m, 5s, 5s).
type DirectoryCache struct {
	// TTL is how long a positive answer is used.
	TTL time.Duration `yaml:"ttl"`
	// NegativeTTL is how long a "no such principal" answer is used.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// StaleGrace is how long past its TTL a known principal keeps its last
	// answer while the directory is unreachable (marked stale in audit).
	StaleGrace time.Duration `yaml:"stale_grace"`
	// QueryTimeout bounds one directory query.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// OutageBackoff is how long after a failed query handshakes stop
	// waiting for the directory: known principals get their stale answer
	// at once, unknown ones a ZAP 300 at once.
	OutageBackoff time.Duration `yaml:"outage_backoff"`
}

// Admin configures the admin HTTP listener (health and metrics).
type Admin struct {
	// Listen is host:port for /healthz, /readyz and /metrics (default
	// 127.0.0.1:9750; keep it on loopback or a management network).
	Listen string `yaml:"listen"`
	// TLSCertFile and TLSKeyFile (PEM) make the admin listener serve
	// HTTPS; enroll.enabled requires them.
	TLSCertFile string `yaml:"tls_cert_file"`
	// TLSKeyFile is the PEM private key of TLSCertFile.
	TLSKeyFile string `yaml:"tls_key_file"`
}

func directoryDefaults() Directory {
	return Directory{Type: "static", Static: StaticDirectory{File: "/etc/zapgate/directory.yaml"}}
}

// validate checks the directory section.
func (d *Directory) validate(bad func(path, format string, args ...any), _ *yaml.Node) {
	switch d.Type {
	case "static":
		if d.Static.File == "" {
			bad("directory.static.file", "directory.static.file must name a file")
		}
	case "ldap":
		lc := d.LDAP.Config
		if lc.BindDN != "" {
			lc.BindPassword = "(read at start)" // the secret's source is checked below
		}
		if err := lc.Validate(); err != nil {
			bad("directory.ldap", "directory.ldap: %v", err)
		}
		if d.LDAP.BindDN != "" && d.LDAP.BindPasswordFile == "" && d.LDAP.BindPasswordEnv == "" {
			bad("directory.ldap.bind_dn", "directory.ldap.bind_dn needs bind_password_file or bind_password_env")
		}
		if d.LDAP.BindPasswordFile != "" && d.LDAP.BindPasswordEnv != "" {
			bad("directory.ldap.bind_password_file", "set bind_password_file or bind_password_env, not both")
		}
	case "okta":
		if err := d.Okta.Config.Validate(); err != nil {
			bad("directory.okta", "directory.okta: %v", err)
		}
	default:
		bad("directory.type", "directory.type must be static, ldap or okta, not %q", d.Type)
	}
	c := d.Cache
	if c.TTL < 0 || c.NegativeTTL < 0 || c.StaleGrace < 0 || c.QueryTimeout < 0 || c.OutageBackoff < 0 {
		bad("directory.cache", "directory.cache durations must not be negative")
	}
}
