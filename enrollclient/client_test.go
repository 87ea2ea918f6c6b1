package enrollclient

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// caFile writes the TLS test server's certificate as a PEM CA file.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// broker is a TLS test server answering with h, and a Client trusting it.
func broker(t *testing.T, h http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, Options{CAFile: caFile(t, srv)})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestNewRefusesBadBrokerURLs(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:9443", "127.0.0.1:9443", "https://", "https://u:p@h:1", "https://h:1/?x=1", "ftp://h", "%zz"} {
		if _, err := New(u, Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("https://127.0.0.1:9443/", Options{}); err != nil {
		t.Errorf("https URL refused: %v", err)
	}
}

func TestNewRefusesBadCAFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	_, err := New("https://127.0.0.1:1", Options{CAFile: notPEM})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("non-PEM CA file: %v", err)
	}
	_, err = New("https://127.0.0.1:1", Options{CAFile: filepath.Join(dir, "missing.pem")})
	if err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Errorf("missing CA file: %v", err)
	}
}

func TestConfig(t *testing.T) {
	c, _ := broker(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/enroll/config" {
			http.Error(w, "wrong request "+r.Method+" "+r.URL.Path, 400)
			return
		}
		fmt.Fprint(w, `{"issuer":"https://idp.example.com","client_id":"zapgate-enroll","scopes":["openid","email","groups"]}`)
	})
	pc, err := c.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pc.Issuer != "https://idp.example.com" || pc.ClientID != "zapgate-enroll" || strings.Join(pc.Scopes, " ") != "openid email groups" {
		t.Errorf("config %+v", pc)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"not enabled", "404 page not found", 404, "enroll.enabled"},
		{"no issuer", `{"client_id":"x"}`, 200, "no issuer or client_id"},
		{"no client", `{"issuer":"https://idp"}`, 200, "no issuer or client_id"},
		{"issuer not a URL", `{"issuer":"idp.example.com","client_id":"x"}`, 200, "not an http(s) URL"},
		{"not JSON", `<html>`, 200, "not the expected JSON"},
		{"outage", `{"error":"directory-unavailable","message":"ldap down"}`, 503, "directory-unavailable: ldap down"},
		{"escape sequences", "\x1b[31mred\x1b[0m", 500, "?[31mred?[0m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := broker(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := c.Config(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestUntrustedBrokerCertificateNamesCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := New(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Config(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func TestEnrollAndApproveAnswers(t *testing.T) {
	var got map[string]string
	var path string
	c, _ := broker(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "content type", 400)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		if r.URL.Path == "/v1/enroll" {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"status":"pending","principal":"PROXY09$","fingerprint":"SHA256:abc","approved_by":["alice@example.com"],"approvals_required":2}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"status":"bound","principal":"PROXY09$","fingerprint":"SHA256:abc","approved_by":["alice@example.com","bob@example.com"]}`)
	})
	res, err := c.Enroll(context.Background(), EnrollRequest{Principal: "PROXY09$", PublicKey: "k", IDToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if path != "/v1/enroll" || got["principal"] != "PROXY09$" || got["public_key"] != "k" || got["id_token"] != "t" {
		t.Errorf("request %s %v", path, got)
	}
	if res.Status != "pending" || res.ApprovalsRequired != 2 || res.Fingerprint != "SHA256:abc" || len(res.ApprovedBy) != 1 {
		t.Errorf("pending answer decoded as %+v", res)
	}
	res, err = c.Approve(context.Background(), "SHA256:abc", "t2")
	if err != nil {
		t.Fatal(err)
	}
	if path != "/v1/enroll/approve" || got["fingerprint"] != "SHA256:abc" || got["id_token"] != "t2" {
		t.Errorf("request %s %v", path, got)
	}
	if res.Status != "bound" || strings.Join(res.ApprovedBy, ",") != "alice@example.com,bob@example.com" {
		t.Errorf("bound answer decoded as %+v", res)
	}
}

func TestRefusalsKeepTheBrokerCode(t *testing.T) {
	for _, tc := range []struct {
		code   string
		status int
	}{
		{"bad-request", 400}, {"invalid-token", 401}, {"forbidden", 403}, {"principal-disabled", 403},
		{"unknown-principal", 404}, {"key-bound", 409}, {"token-replayed", 409}, {"same-approver", 409},
		{"not-pending", 404}, {"directory-unavailable", 503}, {"audit-unavailable", 503},
	} {
		c, _ := broker(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			fmt.Fprintf(w, `{"error":%q,"message":"because %s"}`, tc.code, tc.code)
		})
		_, err := c.Enroll(context.Background(), EnrollRequest{})
		if !IsCode(err, tc.code) {
			t.Errorf("%s: got %v", tc.code, err)
			continue
		}
		want := fmt.Sprintf("broker refused: %s: because %s (HTTP %d)", tc.code, tc.code, tc.status)
		if err.Error() != want {
			t.Errorf("got %q, want %q", err, want)
		}
		if IsCode(err, "other") {
			t.Errorf("%s: IsCode matches another code", tc.code)
		}
	}
}
