package config

import (
	"net"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Audit configures the tamper-evident audit log and its forwarding
// (docs/audit.md).
//
//	audit:
//	  dir: /var/lib/zapgate/audit
//	  rotate_bytes: 67108864
//	  rotate_age: 24h
//	  checkpoint_key: /etc/zapgate/audit-checkpoint.secret      # mode 0600
//	  checkpoint_public_key: /etc/zapgate/audit-checkpoint.pub  # for verify
//	  checkpoint_interval: 1m
//	  fail_open: false
//	  syslog:
//	    address: siem.corp.example.com:6514
//	    transport: tls
//	    ca_file: /etc/zapgate/siem-ca.pem
type Audit struct {
	// Dir holds the audit log files (default /var/lib/zapgate/audit).
	Dir string `yaml:"dir"`
	// RotateBytes starts a new file when the current one reaches this size
	// (default 64 MiB).
	RotateBytes int64 `yaml:"rotate_bytes"`
	// RotateAge starts a new file when the current one is this old
	// (default 24h).
	RotateAge time.Duration `yaml:"rotate_age"`
	// CheckpointKey is an ed25519 secret key file (mode 0600) used to sign
	// periodic checkpoints; empty disables signed checkpoints.
	CheckpointKey string `yaml:"checkpoint_key"`
	// CheckpointPublicKey is the matching public key file, used by
	// `zapgate audit verify` when --key is not given.
	CheckpointPublicKey string `yaml:"checkpoint_public_key"`
	// CheckpointInterval is how often a signed checkpoint is written
	// (default 1m).
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// FailOpen keeps granting when the log cannot be written. Off by
	// default: audit unavailable means deny.
	FailOpen bool `yaml:"fail_open"`
	// ReserveBytes is the free space kept on the log's filesystem for
	// grants (default 256 MiB; 0 turns it off): below it, refusals of
	// unauthenticated peers are only counted and summarized.
	ReserveBytes int64 `yaml:"reserve_bytes"`
	// Unauthenticated bounds the records of refusals of peers nobody
	// authenticated.
	Unauthenticated AuditUnauthenticated `yaml:"unauthenticated"`
	// Syslog forwards every record to a syslog receiver.
	Syslog AuditSyslog `yaml:"syslog"`
}

// AuditSyslog configures live forwarding of the audit log to syslog:
// RFC 5424 with structured data, octet-counted over TCP or TLS (RFC 5425).
type AuditSyslog struct {
	// Address is the receiver as host:port; empty disables forwarding.
	Address string `yaml:"address"`
	// Transport is tls (default, RFC 5425) or tcp (plain; records travel
	// unencrypted, so it must be chosen explicitly).
	Transport string `yaml:"transport"`
	// CAFile holds the PEM CA certificates that sign the receiver's
	// certificate (default: the system roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key for
	// receivers that require mutual TLS (the key file mode 0600).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the client certificate's private key, see CertFile.
	KeyFile string `yaml:"key_file"`
	// ServerName is the name expected in the receiver's certificate
	// (default: the host part of Address).
	ServerName string `yaml:"server_name"`
	// AppName is the RFC 5424 APP-NAME (default zapgate).
	AppName string `yaml:"app_name"`
	// Hostname is the RFC 5424 HOSTNAME (default: the system host name).
	Hostname string `yaml:"hostname"`
	// Facility is the syslog facility name (default authpriv).
	Facility string `yaml:"facility"`
	// CursorFile records the last record the receiver has (default
	// DIR/syslog.cursor).
	CursorFile string `yaml:"cursor_file"`
}

// auditDefaults returns the audit section's defaults.
func auditDefaults() Audit {
	return Audit{
		Dir:                "/var/lib/zapgate/audit",
		RotateBytes:        64 << 20,
		RotateAge:          24 * time.Hour,
		CheckpointInterval: time.Minute,
		ReserveBytes:       defaultAuditReserve,
		Unauthenticated:    auditUnauthenticatedDefaults(),
		Syslog:             AuditSyslog{Transport: "tls", AppName: "zapgate", Facility: "authpriv"},
	}
}

// syslogFacilities are the facility names audit.syslog.facility accepts.
var syslogFacilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "security", "audit", "console", "local0", "local1", "local2", "local3", "local4",
	"local5", "local6", "local7"}

// validate checks the audit section.
func (a *Audit) validate(bad func(path, format string, args ...any), _ *yaml.Node) {
	if a.Dir == "" {
		bad("audit.dir", "audit.dir must name a directory")
	}
	if a.RotateBytes < 4096 {
		bad("audit.rotate_bytes", "audit.rotate_bytes must be at least 4096, not %d", a.RotateBytes)
	}
	if a.RotateAge <= 0 {
		bad("audit.rotate_age", "audit.rotate_age must be positive, not %s", a.RotateAge)
	}
	if a.CheckpointInterval <= 0 {
		bad("audit.checkpoint_interval", "audit.checkpoint_interval must be positive, not %s", a.CheckpointInterval)
	}
	a.validateFlood(bad)
	a.Syslog.validate(bad)
}

// validate checks the audit.syslog section.
func (s *AuditSyslog) validate(bad func(path, format string, args ...any)) {
	if s.Address != "" {
		host, port, err := net.SplitHostPort(s.Address)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			bad("audit.syslog.address", "audit.syslog.address must be host:port, not %q", s.Address)
		}
	}
	switch s.Transport {
	case "tls":
	case "tcp":
		for _, f := range []struct{ key, value string }{{"ca_file", s.CAFile}, {"cert_file", s.CertFile}, {"key_file", s.KeyFile}, {"server_name", s.ServerName}} {
			if f.value != "" {
				bad("audit.syslog."+f.key, "audit.syslog.%s applies only with transport tls", f.key)
			}
		}
	default:
		bad("audit.syslog.transport", "audit.syslog.transport must be tls or tcp, not %q", s.Transport)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		bad("audit.syslog.cert_file", "audit.syslog.cert_file and key_file go together")
	}
	if !syslogToken(s.AppName, 48) {
		bad("audit.syslog.app_name", "audit.syslog.app_name must be 1 to 48 printable ASCII characters without spaces, not %q", s.AppName)
	}
	if s.Hostname != "" && !syslogToken(s.Hostname, 255) {
		bad("audit.syslog.hostname", "audit.syslog.hostname must be printable ASCII without spaces, at most 255, not %q", s.Hostname)
	}
	known := false
	for _, f := range syslogFacilities {
		known = known || f == s.Facility
	}
	if !known {
		bad("audit.syslog.facility", "audit.syslog.facility must be one of %s, not %q", strings.Join(syslogFacilities, ", "), s.Facility)
	}
}

// syslogToken reports whether s is 1 to max printable US-ASCII characters
// without spaces, as RFC 5424 header fields must be.
func syslogToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}
