package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuditDefaults(t *testing.T) {
	cfg, err := Parse("z.yaml", []byte("audit:\n  dir: /srv/audit\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Audit
	if a.Dir != "/srv/audit" || a.RotateBytes != 64<<20 || a.RotateAge != 24*time.Hour || a.CheckpointInterval != time.Minute || a.FailOpen {
		t.Errorf("audit = %+v", a)
	}
	s := a.Syslog
	if s.Address != "" || s.Transport != "tls" || s.AppName != "zapgate" || s.Facility != "authpriv" {
		t.Errorf("syslog = %+v", s)
	}
}

func TestAuditFullSection(t *testing.T) {
	doc := `audit:
  dir: /var/lib/zapgate/audit
  rotate_bytes: 1048576
  rotate_age: 1h
  checkpoint_key: /etc/zapgate/audit.secret
  checkpoint_public_key: /etc/zapgate/audit.pub
  checkpoint_interval: 30s
  fail_open: true
  syslog:
    address: "[::1]:6514"
    transport: tls
    ca_file: /etc/zapgate/ca.pem
    cert_file: /etc/zapgate/client.pem
    key_file: /etc/zapgate/client.key
    server_name: siem.corp.example.com
    app_name: zapgate-eu1
    hostname: broker1.corp.example.com
    facility: local4
    cursor_file: /var/lib/zapgate/syslog.cursor
`
	cfg, err := Parse("z.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Audit
	want := AuditSyslog{Address: "[::1]:6514", Transport: "tls", CAFile: "/etc/zapgate/ca.pem",
		CertFile: "/etc/zapgate/client.pem", KeyFile: "/etc/zapgate/client.key", ServerName: "siem.corp.example.com",
		AppName: "zapgate-eu1", Hostname: "broker1.corp.example.com", Facility: "local4", CursorFile: "/var/lib/zapgate/syslog.cursor"}
	if a.Syslog != want {
		t.Errorf("syslog = %+v", a.Syslog)
	}
	if !a.FailOpen || a.RotateBytes != 1<<20 || a.CheckpointPublicKey != "/etc/zapgate/audit.pub" || a.CheckpointInterval != 30*time.Second {
		t.Errorf("audit = %+v", a)
	}
}

func TestAuditErrors(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"empty dir", "audit:\n  dir: \"\"\n", []string{"z.yaml:2: audit.dir must name a directory"}},
		{"small rotation", "audit:\n  rotate_bytes: 100\n", []string{"z.yaml:2: audit.rotate_bytes must be at least 4096"}},
		{"zero age", "audit:\n  rotate_age: 0s\n", []string{"z.yaml:2: audit.rotate_age must be positive"}},
		{"negative interval", "audit:\n  checkpoint_interval: -1m\n", []string{"z.yaml:2: audit.checkpoint_interval must be positive"}},
		{"unknown key", "audit:\n  syslog:\n    adress: x:1\n", []string{`z.yaml:3: unknown key "adress"`}},
		{"no port", "audit:\n  syslog:\n    address: siem\n", []string{"z.yaml:3: audit.syslog.address must be host:port"}},
		{"bad port", "audit:\n  syslog:\n    address: siem:99999\n", []string{"z.yaml:3: audit.syslog.address"}},
		{"no host", "audit:\n  syslog:\n    address: \":514\"\n", []string{"z.yaml:3: audit.syslog.address"}},
		{"transport", "audit:\n  syslog:\n    transport: udp\n", []string{"z.yaml:3: audit.syslog.transport must be tls or tcp"}},
		{"tls file with tcp", "audit:\n  syslog:\n    transport: tcp\n    ca_file: /ca.pem\n", []string{"z.yaml:4: audit.syslog.ca_file applies only with transport tls"}},
		{"cert without key", "audit:\n  syslog:\n    cert_file: /c.pem\n", []string{"z.yaml:3: audit.syslog.cert_file and key_file go together"}},
		{"app name space", "audit:\n  syslog:\n    app_name: zap gate\n", []string{"z.yaml:3: audit.syslog.app_name"}},
		{"app name long", "audit:\n  syslog:\n    app_name: " + strings.Repeat("a", 49) + "\n", []string{"z.yaml:3: audit.syslog.app_name"}},
		{"hostname", "audit:\n  syslog:\n    hostname: \"h\\tx\"\n", []string{"z.yaml:3: audit.syslog.hostname"}},
		{"facility", "audit:\n  syslog:\n    facility: local9\n", []string{"z.yaml:3: audit.syslog.facility must be one of"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("z.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAuditPlainTCPExplicit(t *testing.T) {
	cfg, err := Parse("z.yaml", []byte("audit:\n  syslog:\n    address: 127.0.0.1:514\n    transport: tcp\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Audit.Syslog.Transport != "tcp" {
		t.Errorf("transport = %q", cfg.Audit.Syslog.Transport)
	}
}
