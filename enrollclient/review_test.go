package enrollclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// hostile holds characters a terminal would act on.
const hostile = "\x1b]0;owned\x07\x1b[2J\u202e\u0085"

// clean reports whether s holds none of the hostile characters.
func clean(s string) bool {
	return !strings.ContainsAny(s, "\x1b\x07\u202e\u0085")
}

// A broker answer that redirects is not followed: the ID token in the body
// would be sent again, perhaps in the clear.
func TestBrokerRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"status":"bound","principal":"PROXY01$","fingerprint":"SHA256:abc"}`)
	}))
	t.Cleanup(plain.Close)
	c, _ := broker(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	_, err := c.Enroll(context.Background(), EnrollRequest{Principal: "PROXY01$", PublicKey: "k", IDToken: "secret.id.token"})
	if err == nil || hits.Load() != 0 {
		t.Errorf("redirect to http followed: error %v, %d requests with the token in the clear", err, hits.Load())
	}
}

// Every string of a success answer is made printable: the caller prints
// them to a terminal.
func TestResultIsPrintable(t *testing.T) {
	c, _ := broker(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "bound" + hostile, "principal": "PROXY01$" + hostile,
			"fingerprint": "SHA256:abc" + hostile, "approved_by": []string{"alice" + hostile}})
	})
	res, err := c.Enroll(context.Background(), EnrollRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{res.Status, res.Principal, res.Fingerprint}, res.ApprovedBy...) {
		if !clean(s) {
			t.Errorf("unprintable answer field %q", s)
		}
	}
	if !strings.HasPrefix(res.Principal, "PROXY01$") {
		t.Errorf("principal %q", res.Principal)
	}
}

// The broker names the provider; a plain-http provider would get the
// device code and hand out the ID token in the clear, so it is accepted
// for a loopback host only (as the broker's own config check does).
func TestConfigRefusesPlainHTTPIssuer(t *testing.T) {
	for issuer, ok := range map[string]bool{
		"http://idp.example.com/oauth2": false, "http://10.0.0.1:8080": false,
		"http://127.0.0.1:8080": true, "http://localhost:1": true, "https://idp.example.com": true,
	} {
		c, _ := broker(t, func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"issuer":%q,"client_id":"zapgate-enroll"}`, issuer)
		})
		_, err := c.Config(context.Background())
		if ok != (err == nil) {
			t.Errorf("issuer %s: error %v", issuer, err)
		}
	}
}

// The provider's user code and links are printed to a terminal: they are
// made printable first.
func TestSignInPromptIsPrintable(t *testing.T) {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/auth",
			"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks", "device_authorization_endpoint": srv.URL + "/device/auth"})
	})
	mux.HandleFunc("/device/auth", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "ABCD" + hostile,
			"verification_uri": srv.URL + "/device" + hostile, "verification_uri_complete": srv.URL + "/d" + hostile,
			"expires_in": 60, "interval": 1})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at","token_type":"Bearer","id_token":"the.id.token"}`)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var prompt DevicePrompt
	_, err := SignIn(context.Background(), nil, ProviderConfig{Issuer: srv.URL, ClientID: "zapgate-enroll", Scopes: []string{"openid"}},
		func(p DevicePrompt) { prompt = p })
	if err != nil {
		t.Fatal(err)
	}
	if !clean(prompt.UserCode) || !clean(prompt.VerificationURI) || !clean(prompt.VerificationURIComplete) || !strings.HasPrefix(prompt.UserCode, "ABCD") {
		t.Errorf("prompt %+q", prompt)
	}
}

// printable never cuts a character in half.
func TestPrintableCutsOnCharacters(t *testing.T) {
	s := printable("a" + strings.Repeat("é", 400))
	if !strings.HasSuffix(s, "...") || !strings.HasPrefix(s, "aéé") || strings.ContainsRune(s, '\uFFFD') || !isValidUTF8(s) {
		t.Errorf("printable cut %q", s[len(s)-10:])
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
