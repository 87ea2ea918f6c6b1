package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseOktaDirectory(t *testing.T) {
	doc := `directory:
  type: okta
  okta:
    org_url: https://example.okta.com
    client_id: 0oa1b2c3
    private_key_file: /etc/zapgate/okta-key.pem
    key_id: kid1
    key_attribute: zapgateCurveKey
    timeout: 5s
    max_concurrent: 2
    max_rate_limit_wait: 10s
  cache:
    ttl: 1m
keys:
  source: directory
`
	cfg, err := Parse("z.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Directory.Okta
	if o.OrgURL != "https://example.okta.com" || o.ClientID != "0oa1b2c3" || o.PrivateKeyFile != "/etc/zapgate/okta-key.pem" ||
		o.KeyID != "kid1" || o.KeyAttribute != "zapgateCurveKey" || o.Timeout != 5*time.Second || o.MaxConcurrent != 2 ||
		o.MaxRateLimitWait != 10*time.Second || cfg.Directory.Cache.TTL != time.Minute {
		t.Errorf("okta = %+v", o)
	}
}

func TestParseOktaDirectoryErrors(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"unknown key": {"directory:\n  type: okta\n  okta:\n    org_url: https://o.example\n    api_token_env: T\n    client_secret: hunter2\n",
			"z.yaml:6:"},
		"no auth mode": {"directory:\n  type: okta\n  okta:\n    org_url: https://o.example\n",
			"z.yaml:4: directory.okta: okta: config: no authentication"},
		"both auth modes": {"directory:\n  type: okta\n  okta:\n    org_url: https://o.example\n    client_id: x\n    private_key_file: k\n    api_token_file: t\n",
			"z.yaml:4: directory.okta: okta: config: set exactly one"},
		"plain http": {"directory:\n  type: okta\n  okta:\n    org_url: http://o.example\n    api_token_env: T\n",
			"https"},
		"keys without attribute": {"keys:\n  source: directory\ndirectory:\n  type: okta\n  okta:\n    org_url: https://o.example\n    api_token_env: T\n",
			"z.yaml:2: keys.source directory with directory.type okta needs directory.okta.key_attribute"},
	}
	for name, c := range cases {
		_, err := Parse("z.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}
