package okta

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{OrgURL: "https://example.okta.com", ClientID: "0oa1", PrivateKeyFile: "k.pem"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{OrgURL: "https://example.okta.com/", APITokenEnv: "T"}).Validate(); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(*Config)) Config { c := ok; f(&c); return c }
	cases := map[string]struct {
		c    Config
		want string
	}{
		"no org":        {mod(func(c *Config) { c.OrgURL = "" }), "org_url is required"},
		"http":          {mod(func(c *Config) { c.OrgURL = "http://example.okta.com" }), "https"},
		"path":          {mod(func(c *Config) { c.OrgURL = "https://example.okta.com/oauth2/default" }), "HOST[:PORT] only"},
		"no auth":       {Config{OrgURL: "https://o"}, "no authentication"},
		"both modes":    {mod(func(c *Config) { c.APITokenFile = "t" }), "exactly one"},
		"no key":        {mod(func(c *Config) { c.PrivateKeyFile = "" }), "both client_id and private_key_file"},
		"key_id only":   {Config{OrgURL: "https://o", KeyID: "k"}, "both client_id and private_key_file"},
		"two tokens":    {Config{OrgURL: "https://o", APITokenFile: "f", APITokenEnv: "E"}, "not both"},
		"ssws scopes":   {Config{OrgURL: "https://o", APITokenEnv: "E", Scopes: []string{"x"}}, "scopes apply"},
		"bad scope":     {mod(func(c *Config) { c.Scopes = []string{"a b"} }), "not a scope"},
		"bad attribute": {mod(func(c *Config) { c.KeyAttribute = `k eq "x" or profile.y` }), "key_attribute"},
		"negative":      {mod(func(c *Config) { c.Timeout = -time.Second }), "negative"},
		"negative cap":  {mod(func(c *Config) { c.MaxConcurrent = -1 }), "negative"},
	}
	for name, c := range cases {
		err := c.c.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	// Defaults never modify the caller's value.
	c := ok
	n, _ := c.normalize()
	if c.Timeout != 0 || c.Scopes != nil || n.Timeout != DefaultTimeout || n.MaxConcurrent != DefaultMaxConcurrent || len(n.Scopes) != 2 {
		t.Errorf("normalize: caller %+v, copy %+v", c, n)
	}
}
