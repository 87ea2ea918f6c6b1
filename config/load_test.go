package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDefaultsAndPartialSections(t *testing.T) {
	cfg, err := Parse("z.yaml", []byte("keys:\n  registry: /srv/keys\nzap:\n  timeout: 250ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keys.Registry != "/srv/keys" {
		t.Errorf("registry = %q", cfg.Keys.Registry)
	}
	if cfg.Keys.ServerSecret != Defaults().Keys.ServerSecret {
		t.Errorf("server_secret default lost: %q", cfg.Keys.ServerSecret)
	}
	if cfg.ZAP.Timeout != 250*time.Millisecond || cfg.ZAP.Queue != 1024 {
		t.Errorf("zap = %+v", cfg.ZAP)
	}
}

func TestParseEmptyFileIsDefaults(t *testing.T) {
	cfg, err := Parse("z.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, Defaults()) {
		t.Errorf("got %+v", cfg)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"unknown key", "keys:\n  registry: /k\n  regsitry: /x\n", []string{`z.yaml:3: unknown key "regsitry"`}},
		{"unknown section", "log:\n  level: info\nbrokr:\n  listen: tcp://x:1\n", []string{`z.yaml:3: unknown key "brokr"`}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []string{`z.yaml:3:`, `already defined`}},
		{"wrong type", "zap:\n  workers: many\n", []string{`z.yaml:2:`, `many`}},
		{"bad duration", "zap:\n  timeout: soon\n", []string{`z.yaml:2:`}},
		{"bad level", "log:\n  level: loud\n", []string{`z.yaml:2: log.level must be`}},
		{"negative timeout", "zap:\n  timeout: -1s\n", []string{`z.yaml:2: zap.timeout must be positive`}},
		{"bad listen", "broker:\n  listen: http://x\n", []string{`z.yaml:2: broker.listen`}},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: info\n", []string{`more than one YAML document`}},
		{"syntax", "log: [\n", []string{`z.yaml:`}},
		{"directory type", "directory:\n  type: ldapp\n", []string{`z.yaml:2: directory.type must be static`}},
		{"directory file", "directory:\n  static:\n    file: \"\"\n", []string{`z.yaml:3: directory.static.file`}},
		{"admin listen", "admin:\n  listen: nonsense\n", []string{`z.yaml:2: admin.listen`}},
		{"negative cache duration", "directory:\n  cache:\n    outage_backoff: -1s\n", []string{`z.yaml:3: directory.cache durations must not be negative`}},
		{"signature without keys", "policy:\n  require_signature: true\n", []string{`z.yaml:2: policy.require_signature needs`}},
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

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Parse("z.yaml", []byte("log:\n  level: loud\n  format: xml\nzap:\n  queue: -1\n"))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	if len(es) != 3 {
		t.Fatalf("want 3 errors, got %d: %v", len(es), err)
	}
	lines := []int{es[0].Line, es[1].Line, es[2].Line}
	if lines[0] != 2 || lines[1] != 3 || lines[2] != 5 {
		t.Errorf("lines = %v", lines)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("keys:\n  registry: /k\n"))
	f.Add([]byte("zap: {workers: 3, timeout: 2s}\n"))
	f.Add([]byte("log:\n  level: loud\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && cfg != nil {
			t.Fatal("config with error")
		}
	})
}

func TestParseLDAPDirectory(t *testing.T) {
	doc := `directory:
  type: ldap
  ldap:
    urls: [ldaps://dc1.corp.example.com]
    bind_dn: CN=svc,DC=corp,DC=example,DC=com
    bind_password_file: /etc/zapgate/ldap-password
    base_dn: DC=corp,DC=example,DC=com
    flavour: ad
    group_mode: inchain
  cache:
    ttl: 2m
`
	cfg, err := Parse("z.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Directory.LDAP
	if len(l.URLs) != 1 || l.Flavour != "ad" || l.GroupMode != "inchain" || l.BindPasswordFile == "" || cfg.Directory.Cache.TTL != 2*time.Minute {
		t.Errorf("ldap = %+v cache = %+v", l, cfg.Directory.Cache)
	}
	for name, bad := range map[string]string{
		"inline password refused": "directory:\n  type: ldap\n  ldap:\n    urls: [ldaps://x]\n    base_dn: dc=x\n    bind_password: hunter2\n",
		"bind dn without secret":  "directory:\n  type: ldap\n  ldap:\n    urls: [ldaps://x]\n    base_dn: dc=x\n    bind_dn: cn=svc,dc=x\n",
		"plain ldap refused":      "directory:\n  type: ldap\n  ldap:\n    urls: [ldap://x]\n    base_dn: dc=x\n",
	} {
		if _, err := Parse("z.yaml", []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "z.yaml:") {
			t.Errorf("%s: error without location: %v", name, err)
		}
	}
}
