package enrollclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeProvider is an OpenID provider stand-in: discovery, a device
// authorization endpoint announcing a 1 s interval, and a token endpoint
// that answers authorization_pending pending times, then final.
type fakeProvider struct {
	srv       *httptest.Server
	noDevice  bool
	pending   int
	final     string // JSON body of the last token answer
	status    int    // status of the last token answer
	mu        sync.Mutex
	polls     int
	badClient []string // problems seen in requests
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	p := &fakeProvider{status: 200}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		doc := map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/auth",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks",
		}
		if !p.noDevice {
			doc["device_authorization_endpoint"] = p.srv.URL + "/device/auth"
		}
		json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("/device/auth", func(w http.ResponseWriter, r *http.Request) {
		p.check(r)
		if r.PostFormValue("scope") != "openid groups" {
			p.problem("scope " + r.PostFormValue("scope"))
		}
		fmt.Fprintf(w, `{"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"%[1]s/device","verification_uri_complete":"%[1]s/device?user_code=ABCD-EFGH","expires_in":60,"interval":1}`, p.srv.URL)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		p.check(r)
		if r.PostFormValue("device_code") != "dc" || r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" {
			p.problem("token request " + r.PostForm.Encode())
		}
		p.mu.Lock()
		p.polls++
		n := p.polls
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n <= p.pending {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"authorization_pending"}`)
			return
		}
		w.WriteHeader(p.status)
		fmt.Fprint(w, p.final)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// check records a request that does not authenticate as a public client.
func (p *fakeProvider) check(r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		p.problem("Authorization header sent")
	}
	if r.PostFormValue("client_id") != "zapgate-enroll" {
		p.problem("client_id " + r.PostFormValue("client_id"))
	}
}

func (p *fakeProvider) problem(s string) {
	p.mu.Lock()
	p.badClient = append(p.badClient, s)
	p.mu.Unlock()
}

func (p *fakeProvider) config() ProviderConfig {
	return ProviderConfig{Issuer: p.srv.URL, ClientID: "zapgate-enroll", Scopes: []string{"openid", "groups"}}
}

func TestSignInPollsUntilApproved(t *testing.T) {
	p := newFakeProvider(t)
	p.pending = 1
	p.final = `{"access_token":"at","token_type":"Bearer","id_token":"the.id.token"}`
	var prompt DevicePrompt
	tok, err := SignIn(context.Background(), nil, p.config(), func(dp DevicePrompt) { prompt = dp })
	if err != nil {
		t.Fatal(err)
	}
	if tok != "the.id.token" {
		t.Errorf("id token %q", tok)
	}
	if prompt.UserCode != "ABCD-EFGH" || prompt.VerificationURI != p.srv.URL+"/device" ||
		!strings.HasSuffix(prompt.VerificationURIComplete, "?user_code=ABCD-EFGH") || prompt.Expiry.IsZero() {
		t.Errorf("prompt %+v", prompt)
	}
	if p.polls != 2 {
		t.Errorf("%d token polls, want 2 (one pending, one answered)", p.polls)
	}
	if len(p.badClient) > 0 {
		t.Errorf("requests: %v", p.badClient)
	}
}

func TestSignInErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noDevice bool
		status   int
		final    string
		want     string
	}{
		{"no device endpoint", true, 200, "", "no device authorization endpoint"},
		{"refused", false, 400, `{"error":"access_denied"}`, "access_denied"},
		{"expired", false, 400, `{"error":"expired_token"}`, "run the command again"},
		{"no id token", false, 200, `{"access_token":"at","token_type":"Bearer"}`, "no id_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFakeProvider(t)
			p.noDevice, p.status, p.final = tc.noDevice, tc.status, tc.final
			prompted := false
			_, err := SignIn(context.Background(), nil, p.config(), func(DevicePrompt) { prompted = true })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if prompted == tc.noDevice {
				t.Errorf("prompted = %v", prompted)
			}
		})
	}
}

func TestSignInWrongIssuer(t *testing.T) {
	p := newFakeProvider(t)
	pc := p.config()
	pc.Issuer = strings.Replace(pc.Issuer, "127.0.0.1", "localhost", 1)
	_, err := SignIn(context.Background(), nil, pc, func(DevicePrompt) { t.Error("prompted") })
	if err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("discovery document for another issuer: %v", err)
	}
}
