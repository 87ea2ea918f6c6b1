package oktatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// httpClient trusts s.
func httpClient(s *Server) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CertPEM())
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func sign(t *testing.T, key *ecdsa.PrivateKey, c jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient(s).PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestTokenEndpointChecksTheAssertion(t *testing.T) {
	s := New(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s.RegisterClient("0oa1", &key.PublicKey, "", "okta.users.read")
	now := time.Now()
	good := func() jwt.Claims {
		return jwt.Claims{Issuer: "0oa1", Subject: "0oa1", Audience: jwt.Audience{s.TokenURL()},
			Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: newID("jti")}
	}
	form := func(assertion string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.users.read"},
			"client_assertion_type": {assertionType}, "client_assertion": {assertion}}
	}
	code, body := post(t, s, form(sign(t, key, good())))
	if code != 200 || body["access_token"] == "" || body["token_type"] != "Bearer" || body["expires_in"].(float64) != 3600 {
		t.Fatalf("good assertion: %d %v", code, body)
	}

	replayed := sign(t, key, good())
	post(t, s, form(replayed))
	mut := func(f func(*jwt.Claims)) string { c := good(); f(&c); return sign(t, key, c) }
	cases := map[string]struct {
		form url.Values
		want string
	}{
		"replayed jti":    {form(replayed), "already been used"},
		"wrong aud":       {form(mut(func(c *jwt.Claims) { c.Audience = jwt.Audience{s.URL} })), "audience"},
		"expired":         {form(mut(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), "expired"},
		"exp too far":     {form(mut(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(2 * time.Hour)) })), "one hour"},
		"no jti":          {form(mut(func(c *jwt.Claims) { c.ID = "" })), "jti"},
		"sub differs":     {form(mut(func(c *jwt.Claims) { c.Subject = "someone" })), "iss and sub"},
		"unknown client":  {form(mut(func(c *jwt.Claims) { c.Issuer, c.Subject = "0oa2", "0oa2" })), "registered"},
		"other key":       {form(sign(t, other, good())), "signature"},
		"not a JWT":       {form("abc"), "signed JWT"},
		"missing type":    {url.Values{"grant_type": {"client_credentials"}, "client_assertion": {sign(t, key, good())}}, "client_assertion_type"},
		"secret":          {url.Values{"grant_type": {"client_credentials"}, "client_id": {"0oa1"}, "client_secret": {"x"}}, "client secret"},
		"password grant":  {url.Values{"grant_type": {"password"}}, "not supported"},
		"scope not given": {func() url.Values { f := form(sign(t, key, good())); f.Set("scope", "okta.users.manage"); return f }(), "not granted"},
		"no scope":        {func() url.Values { f := form(sign(t, key, good())); f.Del("scope"); return f }(), "requires a scope"},
	}
	for name, c := range cases {
		code, body := post(t, s, c.form)
		desc, _ := body["error_description"].(string)
		if code < 400 || !strings.Contains(desc, c.want) {
			t.Errorf("%s: %d %v, want a refusal containing %q", name, code, body, c.want)
		}
	}
	if n := s.Count(EndpointToken); n != 2+len(cases) {
		t.Errorf("Count(token) = %d, want %d", n, 2+len(cases))
	}
}

func TestAPIRequiresAValidToken(t *testing.T) {
	s := New(t)
	s.AddUser(User{Login: "a@x.example"})
	s.AddAPIToken("good")
	for auth, want := range map[string]int{"": 401, "SSWS bad": 401, "Bearer nope": 401, "SSWS good": 200} {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/users/a@x.example", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := httpClient(s).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("X-Rate-Limit-Remaining") == "" {
			t.Errorf("%q: %d (rate headers %v), want %d", auth, resp.StatusCode, resp.Header.Get("X-Rate-Limit-Remaining"), want)
		}
	}
}

// getJSON sends GET path with an SSWS token and decodes the answer.
func getJSON(t *testing.T, s *Server, path string) (int, any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.Header.Set("Authorization", "SSWS good")
	resp, err := httpClient(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestLoginsWithSlashFilterAndStaleSearch(t *testing.T) {
	s := New(t)
	s.AddAPIToken("good")
	id := s.AddUser(User{Login: `a/b"c@x.example`, Profile: map[string]any{"k": "v"}})
	// Okta fetches a login with "/" by id only.
	if code, body := getJSON(t, s, "/api/v1/users/"+url.PathEscape(`a/b"c@x.example`)); code != 404 || body.(map[string]any)["errorCode"] != "E0000007" {
		t.Errorf("login with / by path: %d %v, want 404 E0000007", code, body)
	}
	if code, _ := getJSON(t, s, "/api/v1/users/"+id); code != 200 {
		t.Errorf("by id: %d", code)
	}
	q := url.Values{"filter": {`profile.login eq "A/B\"C@x.example"`}}
	if code, body := getJSON(t, s, "/api/v1/users?"+q.Encode()); code != 200 || len(body.([]any)) != 1 {
		t.Errorf("filter on login: %d %v, want one user", code, body)
	}
	q = url.Values{"filter": {`profile.login sw "a"`}}
	if code, _ := getJSON(t, s, "/api/v1/users?"+q.Encode()); code != 400 {
		t.Errorf("unsupported filter: %d, want 400", code)
	}
	// A stale index still finds a value that was removed.
	s.SetSearchStale(true)
	s.SetProfile(id, "k", nil)
	q = url.Values{"search": {`profile.k eq "v"`}}
	if _, body := getJSON(t, s, "/api/v1/users?"+q.Encode()); len(body.([]any)) != 1 {
		t.Errorf("stale search: %v, want the old match", body)
	}
	s.SetSearchStale(false)
	if _, body := getJSON(t, s, "/api/v1/users?"+q.Encode()); len(body.([]any)) != 0 {
		t.Errorf("current search: %v, want no match", body)
	}
}
