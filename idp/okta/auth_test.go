package okta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

// fixture is a contract server, a CA file trusting it, and a temp dir.
type fixture struct {
	srv *oktatest.Server
	dir string
	ca  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{srv: oktatest.New(t), dir: t.TempDir()}
	f.ca = filepath.Join(f.dir, "ca.pem")
	if err := f.srv.WriteCAFile(f.ca); err != nil {
		t.Fatal(err)
	}
	return f
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is one 2048-bit key shared by the tests (generation is slow).
func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

// writeFile writes data with mode 0600 and returns its path.
func (f *fixture) writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// oauth registers client "0oazapgate" with pub and returns an OAuth
// config using keyFile.
func (f *fixture) oauth(t *testing.T, pub crypto.PublicKey, keyFile string) Config {
	t.Helper()
	f.srv.RegisterClient("0oazapgate", pub, "", "okta.users.read", "okta.groups.read")
	return Config{OrgURL: f.srv.URL, CAFile: f.ca, ClientID: "0oazapgate", PrivateKeyFile: keyFile, Timeout: 5 * time.Second}
}

// rsaConfig is an OAuth config with the shared RSA key as PKCS#1 PEM.
func (f *fixture) rsaConfig(t *testing.T) Config {
	t.Helper()
	k := testRSAKey(t)
	file := f.writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	return f.oauth(t, &k.PublicKey, file)
}

// sswsConfig is an API-token config.
func (f *fixture) sswsConfig(t *testing.T) Config {
	t.Helper()
	f.srv.AddAPIToken("00ssws-test-token")
	file := f.writeFile(t, "token", []byte("00ssws-test-token\n"))
	return Config{OrgURL: f.srv.URL, CAFile: f.ca, APITokenFile: file, Timeout: 5 * time.Second}
}

func mustNew(t *testing.T, cfg Config) *Directory {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func lookup(t *testing.T, d *Directory, principal string) idp.Identity {
	t.Helper()
	id, err := d.Lookup(context.Background(), principal)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", principal, err)
	}
	return id
}

func TestOAuthTokenIsCachedAcrossLookups(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "proxy01@corp.example.com"})
	d := mustNew(t, f.rsaConfig(t))
	for range 5 {
		if id := lookup(t, d, "proxy01@corp.example.com"); !id.Enabled || id.Source != "okta" {
			t.Fatalf("identity %+v", id)
		}
	}
	if n := f.srv.Count(oktatest.EndpointToken); n != 1 {
		t.Errorf("%d token requests for 5 lookups, want 1 (cached)", n)
	}
	if n := f.srv.Count(oktatest.EndpointUser); n != 5 {
		t.Errorf("%d user requests, want 5", n)
	}
}

func TestOAuthTokenRenewedBeforeExpiry(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "proxy01@corp.example.com", Status: "SUSPENDED"})
	// Tokens that live less than the renewal margin are never reused.
	f.srv.SetTokenLifetime(renewBefore / 2)
	d := mustNew(t, f.rsaConfig(t))
	for range 3 {
		lookup(t, d, "proxy01@corp.example.com")
	}
	if n := f.srv.Count(oktatest.EndpointToken); n != 3 {
		t.Errorf("%d token requests for 3 lookups with tokens inside the renewal margin, want 3", n)
	}
}

func TestOAuthRevokedTokenIsReplacedOnce(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example", Status: "SUSPENDED"})
	d := mustNew(t, f.rsaConfig(t))
	lookup(t, d, "a@x.example")
	f.srv.RevokeTokens()
	lookup(t, d, "a@x.example")
	if n := f.srv.Count(oktatest.EndpointToken); n != 2 {
		t.Errorf("%d token requests, want 2 (one after the 401)", n)
	}
	if n := f.srv.Count(oktatest.EndpointUser); n != 3 {
		t.Errorf("%d user requests, want 3 (one refused with 401, retried)", n)
	}
}

func TestKeyFormats(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(testRSAKey(t))
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: ec384, KeyID: "kid-384", Algorithm: "ES384"})
	cases := []struct {
		name string
		pub  crypto.PublicKey
		data []byte
	}{
		{"EC P-256 SEC 1 PEM", &ec.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})},
		{"RSA PKCS#8 PEM", &testRSAKey(t).PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})},
		{"EC P-384 JWK", &ec384.PublicKey, jwk},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.AddUser(oktatest.User{Login: "a@x.example"})
			d := mustNew(t, f.oauth(t, c.pub, f.writeFile(t, "key", c.data)))
			lookup(t, d, "a@x.example")
		})
	}
}

func TestKeyFilesRefused(t *testing.T) {
	f := newFixture(t)
	pubJWK, _ := json.Marshal(jose.JSONWebKey{Key: &testRSAKey(t).PublicKey})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := map[string]struct {
		data []byte
		mode os.FileMode
		want string
	}{
		"group readable": {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testRSAKey(t))}), 0o640, "chmod 600"},
		"public JWK":     {pubJWK, 0o600, "public key"},
		"certificate":    {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), 0o600, "not a private key"},
		"garbage":        {[]byte("hello"), 0o600, "neither PEM nor a JWK"},
		"small RSA":      {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}), 0o600, "at least 2048"},
		"empty":          {nil, 0o600, "empty"},
	}
	for name, c := range cases {
		p := filepath.Join(f.dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(p, c.data, c.mode)
		os.Chmod(p, c.mode)
		_, err := New(Config{OrgURL: f.srv.URL, ClientID: "x", PrivateKeyFile: p})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func TestAssertionSignedWithAnotherKeyIsRefused(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := f.rsaConfig(t)
	f.srv.RegisterClient("0oazapgate", &other.PublicKey, "", "okta.users.read") // replaces the right key
	d := mustNew(t, cfg)
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, idp.ErrUnavailable) || !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("error %v, want an unavailable credentials refusal naming invalid_client", err)
	}
	if f.srv.Count(oktatest.EndpointUser) != 0 {
		t.Error("the API was called without a token")
	}
	checks := d.CheckAPI(context.Background())
	if len(checks) != 1 || checks[0].Err == nil || !strings.Contains(checks[0].What, "token") {
		t.Errorf("CheckAPI = %+v, want one failed token check", checks)
	}
}

func TestScopeNotGrantedIsRefused(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	cfg := f.rsaConfig(t)
	f.srv.RegisterClient("0oazapgate", &testRSAKey(t).PublicKey, "", "okta.groups.read")
	d := mustNew(t, cfg)
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("error %v, want invalid_scope", err)
	}
	// Granted the scope token request works but the token lacks
	// okta.users.read: the API answers 403 with the hint.
	cfg.Scopes = []string{"okta.groups.read"}
	d = mustNew(t, cfg)
	_, err = d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, ErrAuth) || !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "Read-only Administrator") {
		t.Fatalf("error %v, want a 403 naming the admin role", err)
	}
}

func TestSSWS(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	lookup(t, mustNew(t, f.sswsConfig(t)), "a@x.example")
	t.Setenv("ZAPGATE_TEST_OKTA_TOKEN", "00ssws-test-token")
	lookup(t, mustNew(t, Config{OrgURL: f.srv.URL, CAFile: f.ca, APITokenEnv: "ZAPGATE_TEST_OKTA_TOKEN"}), "a@x.example")
	if n := f.srv.Count(oktatest.EndpointToken); n != 0 {
		t.Errorf("%d token requests in SSWS mode", n)
	}

	t.Setenv("ZAPGATE_TEST_OKTA_TOKEN", "00wrong")
	d := mustNew(t, Config{OrgURL: f.srv.URL, CAFile: f.ca, APITokenEnv: "ZAPGATE_TEST_OKTA_TOKEN"})
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, ErrAuth) || !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "API token") {
		t.Fatalf("wrong token: %v", err)
	}
	if strings.Contains(err.Error(), "00wrong") {
		t.Fatalf("the token leaked into the error: %v", err)
	}
	t.Setenv("ZAPGATE_TEST_OKTA_TOKEN", "")
	if _, err := New(Config{OrgURL: f.srv.URL, APITokenEnv: "ZAPGATE_TEST_OKTA_TOKEN"}); err == nil {
		t.Error("an empty token variable was accepted")
	}
}

func TestCheckAPI(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	checks := mustNew(t, f.rsaConfig(t)).CheckAPI(context.Background())
	if len(checks) != 2 || checks[0].Err != nil || checks[1].Err != nil {
		t.Fatalf("CheckAPI = %+v, want a token and an API check that pass", checks)
	}
	f.srv.InjectStatus(500, -1)
	checks = mustNew(t, f.sswsConfig(t)).CheckAPI(context.Background())
	if len(checks) != 1 || !errors.Is(checks[0].Err, idp.ErrUnavailable) {
		t.Fatalf("CheckAPI during a 500 = %+v", checks)
	}
}
