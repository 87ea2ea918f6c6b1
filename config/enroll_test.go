package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const enrollDoc = `admin:
  listen: 0.0.0.0:9750
  tls_cert_file: admin.crt
  tls_key_file: admin.key
enroll:
  enabled: true
  issuer: https://corp.okta.com/oauth2/default
  client_id: 0oa1zapgate
`

func TestEnrollDefaults(t *testing.T) {
	cfg, err := Parse("z.yaml", []byte(enrollDoc))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Enroll
	want := Enroll{Enabled: true, Issuer: "https://corp.okta.com/oauth2/default", ClientID: "0oa1zapgate",
		Scopes: []string{"openid", "profile", "email", "groups"}, GroupsClaim: "groups", GroupsPrefix: "okta:",
		GroupsFrom: "token", PrincipalClaim: "email", StateDir: "/var/lib/zapgate/enroll", PendingTTL: 24 * time.Hour,
		RateLimit: EnrollRateLimit{Rate: 0.5, Burst: 10, MaxSources: 4096}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("enroll = %+v\nwant %+v", e, want)
	}
	if cfg.Admin.TLSCertFile != "admin.crt" || cfg.Admin.TLSKeyFile != "admin.key" {
		t.Errorf("admin = %+v", cfg.Admin)
	}
	off, err := Parse("z.yaml", nil)
	if err != nil || off.Enroll.Enabled {
		t.Errorf("enroll on by default: %+v %v", off.Enroll, err)
	}
}

func TestEnrollFullSection(t *testing.T) {
	doc := enrollDoc + `  scopes: [openid, email]
  groups_claim: roles
  groups_prefix: ""
  groups_from: directory
  principal_claim: preferred_username
  state_dir: state/enroll
  pending_ttl: 2h
  ca_file: idp-ca.pem
`
	cfg, err := Parse("z.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Enroll
	if !reflect.DeepEqual(e.Scopes, []string{"openid", "email"}) || e.GroupsClaim != "roles" || e.GroupsPrefix != "" ||
		e.GroupsFrom != "directory" || e.PrincipalClaim != "preferred_username" || e.StateDir != "state/enroll" ||
		e.PendingTTL != 2*time.Hour || e.CAFile != "idp-ca.pem" {
		t.Errorf("enroll = %+v", e)
	}
}

func TestEnrollInvalid(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"enroll:\n  enabled: true\n  issuer: https://idp.example.com\n  client_id: c\n",
			"z.yaml:2: enroll.enabled needs admin.tls_cert_file and admin.tls_key_file"},
		{"admin:\n  listen: \"\"\nenroll:\n  enabled: true\n  issuer: https://idp.example.com\n  client_id: c\n",
			"enroll.enabled needs admin.listen"},
		{"admin:\n  tls_cert_file: a.crt\n", "admin.tls_cert_file and admin.tls_key_file go together"},
		{strings.Replace(enrollDoc, "https://corp.okta.com/oauth2/default", "http://idp.example.com", 1),
			"z.yaml:7: enroll.issuer must use https (http is accepted for a loopback host only)"},
		{strings.Replace(enrollDoc, "https://corp.okta.com/oauth2/default", "idp.example.com", 1), "enroll.issuer must be an absolute URL"},
		{strings.Replace(enrollDoc, "  client_id: 0oa1zapgate\n", "", 1), "enroll.client_id must name the OAuth client"},
		{enrollDoc + "  scopes: [email]\n", "enroll.scopes must include openid"},
		{enrollDoc + "  groups_from: ldap\n", `enroll.groups_from must be token or directory, not "ldap"`},
		{enrollDoc + "  groups_claim: \"\"\n", "enroll.groups_claim must name a claim"},
		{enrollDoc + "  principal_claim: \"\"\n", "enroll.principal_claim must name a claim"},
		{enrollDoc + "  pending_ttl: 0s\n", "enroll.pending_ttl must be positive"},
		{enrollDoc + "  approvers: 2\n", `unknown key "approvers"`},
		{enrollDoc + "keys:\n  source: directory\ndirectory:\n  type: ldap\n  ldap:\n    urls: [ldaps://dc1.corp.example.com]\n    base_dn: DC=corp,DC=example,DC=com\n",
			"enroll.enabled needs keys.source registry"},
	}
	for _, c := range cases {
		_, err := Parse("z.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.doc, err, c.want)
		}
	}
	loop := strings.Replace(enrollDoc, "https://corp.okta.com/oauth2/default", "http://127.0.0.1:8080/oidc", 1)
	if _, err := Parse("z.yaml", []byte(loop)); err != nil {
		t.Errorf("loopback http issuer refused: %v", err)
	}
}
