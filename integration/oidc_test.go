//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zapgate/zapgate/enrollclient"
)

// enrollClientID is the provider's client that zapgate's enrollment uses;
// otherClientID is a second client, for ID tokens with the wrong audience.
const (
	enrollClientID = "zapgate-enroll"
	otherClientID  = "other-app"
)

// enrollScopes are the scopes the tests request.
var enrollScopes = []string{"openid", "email", "profile", "groups"}

// oidcProvider is a running integration/oidc/provider.mjs (panva's
// oidc-provider on Node.js) on 127.0.0.1.
type oidcProvider struct {
	issuer string
	port   int
	ttl    int // ID token lifetime, seconds
	cmd    *exec.Cmd
	log    *syncBuffer
}

// syncBuffer is a goroutine-safe log of a child process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeJWKS writes a JWK set with one fresh RSA signing key (kid) to a new
// file and returns its path.
func writeJWKS(t *testing.T, kid string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: kid, Algorithm: "RS256", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), kid+".jwks.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startOIDCProvider starts provider.mjs on port (0: a free one) with the
// signing keys in jwks and ID tokens valid for ttl seconds, waits for its
// "listening" line, and stops it by PID when the test ends.
func startOIDCProvider(t *testing.T, port int, jwks string, ttl int) *oidcProvider {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node (Node.js) not found: install nodejs; the OpenID provider tests need it")
	}
	if _, err := os.Stat("oidc/node_modules/oidc-provider"); err != nil {
		t.Fatal("integration/oidc/node_modules/oidc-provider missing: run `make deps` (npm ci --prefix integration/oidc)")
	}
	if port == 0 {
		port = freePort(t)
	}
	p := &oidcProvider{issuer: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, ttl: ttl, log: &syncBuffer{}}
	p.cmd = exec.Command("node", "oidc/provider.mjs", "--port", fmt.Sprint(port), "--jwks", jwks,
		"--id-token-ttl", fmt.Sprint(ttl), "--interval", "1")
	p.cmd.Stderr = p.log
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.log.Write([]byte(sc.Text() + "\n"))
			if strings.HasPrefix(sc.Text(), "listening") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("provider.mjs exited before listening:\n%s", p.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("provider.mjs not listening after 30s:\n%s", p.log)
	}
	return p
}

// stop ends the provider (SIGTERM, then SIGKILL) and waits for it.
func (p *oidcProvider) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// restart stops the provider and starts it again on the same port (the
// same issuer) with the signing keys in jwks (a new key: a key rotation)
// and ID tokens valid for ttl seconds.
func (p *oidcProvider) restart(t *testing.T, jwks string, ttl int) *oidcProvider {
	t.Helper()
	p.stop()
	return startOIDCProvider(t, p.port, jwks, ttl)
}

// token runs the device flow as clientID (through enrollclient.SignIn, the
// code `zapgate enroll` runs) and signs in at the provider's pages as login;
// it returns the raw ID token.
func (p *oidcProvider) token(t *testing.T, clientID, login string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	approved := make(chan error, 1)
	pc := enrollclient.ProviderConfig{Issuer: p.issuer, ClientID: clientID, Scopes: enrollScopes}
	tok, err := enrollclient.SignIn(ctx, nil, pc, func(dp enrollclient.DevicePrompt) {
		go func() {
			err := approveDevice(dp.VerificationURI, dp.UserCode, login)
			if err != nil {
				cancel()
			}
			approved <- err
		}()
	})
	if aerr := <-approved; aerr != nil {
		t.Fatalf("signing in as %s at %s: %v\n%s", login, p.issuer, aerr, p.log)
	}
	if err != nil {
		t.Fatalf("device flow as %s (%s): %v\n%s", clientID, login, err, p.log)
	}
	return tok
}

// formRE finds a form and its body; inputRE an input tag; attrRE the
// attributes of a tag.
var (
	formRE  = regexp.MustCompile(`(?s)<form([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?s)<input([^>]*)>`)
	attrRE  = regexp.MustCompile(`([a-zA-Z_:.-]+)="([^"]*)"`)
)

// attrs parses the name="value" attributes of a tag.
func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(tag, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// approveDevice does what a person does in a browser: opens the
// verification URI, enters the user code, confirms the device, signs in as
// login (any password: dev interactions) and consents. It follows the
// provider's pages by their forms until the success page.
func approveDevice(verificationURI, userCode, login string) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 15 * time.Second}
	resp, err := hc.Get(verificationURI)
	if err != nil {
		return err
	}
	var steps []string
	for i := 0; i < 10; i++ {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d after %v:\n%s", resp.Request.URL, resp.StatusCode, steps, page)
		}
		if strings.Contains(page, "Sign-in Success") {
			return nil
		}
		if strings.Contains(page, `class="red"`) {
			return fmt.Errorf("%s refused after %v:\n%s", resp.Request.URL, steps, page)
		}
		m := formRE.FindStringSubmatch(page)
		if m == nil {
			return fmt.Errorf("%s: no form after %v:\n%s", resp.Request.URL, steps, page)
		}
		action, err := resp.Request.URL.Parse(attrs(m[1])["action"])
		if err != nil {
			return err
		}
		form := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			a := attrs(in[1])
			switch a["name"] {
			case "":
			case "user_code":
				form.Set("user_code", userCode)
			case "login":
				form.Set("login", login)
			case "password":
				form.Set("password", "any password")
			default:
				form.Set(a["name"], a["value"])
			}
		}
		steps = append(steps, action.Path+"?"+strings.Join(formFields(form), ","))
		resp, err = hc.PostForm(action.String(), form)
		if err != nil {
			return err
		}
	}
	resp.Body.Close()
	return fmt.Errorf("no success page after %v", steps)
}

// formFields lists a form's field names.
func formFields(v url.Values) []string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	return ks
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Email  string   `json:"email"`
	Groups []string `json:"groups"`
	Exp    int64    `json:"exp"`
}

// unverifiedClaims decodes an ID token's payload without verifying it.
func unverifiedClaims(t *testing.T, raw string) idClaims {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// tamper flips one bit in the middle of an ID token's signature.
func tamper(raw string) string {
	i := strings.LastIndexByte(raw, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(raw[i+1:])
	sig[len(sig)/2] ^= 0x01
	return raw[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// waitExpired waits until the token's exp has passed by a second (no
// assertion on how long that takes).
func waitExpired(t *testing.T, raw string) {
	t.Helper()
	exp := time.Unix(unverifiedClaims(t, raw).Exp, 0)
	time.Sleep(time.Until(exp.Add(1100 * time.Millisecond)))
}

// TestOIDCProviderHarness proves the test OpenID provider: the device flow
// completes by driving its pages over HTTP, and go-oidc verifies the ID
// token (issuer, audience, signature, expiry) with the email and groups
// claims in it. Tokens for another client, from another issuer (with the
// same signing key), tampered or expired are refused; after a key rotation (restart with a new key on
// the same port) a new token verifies with the same verifier, which
// fetches the new key by its kid.
func TestOIDCProviderHarness(t *testing.T) {
	jwks := writeJWKS(t, "key-1")
	p := startOIDCProvider(t, 0, jwks, 600)
	ctx := context.Background()
	prov, err := oidc.NewProvider(ctx, p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := prov.Verifier(&oidc.Config{ClientID: enrollClientID})

	raw := p.token(t, enrollClientID, "alice")
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("alice's ID token: %v", err)
	}
	var c idClaims
	tok.Claims(&c)
	if tok.Subject != "alice" || c.Email != "alice@example.com" || strings.Join(c.Groups, ",") != "backup-admins" {
		t.Errorf("alice's claims: sub %q %+v", tok.Subject, c)
	}
	if _, err := verifier.Verify(ctx, tamper(raw)); err == nil {
		t.Error("tampered token verified")
	}
	if _, err := verifier.Verify(ctx, p.token(t, otherClientID, "alice")); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("token for %s: %v", otherClientID, err)
	}
	// Another issuer signing with the same key: only the issuer differs.
	other := startOIDCProvider(t, 0, jwks, 600)
	if _, err := verifier.Verify(ctx, other.token(t, enrollClientID, "alice")); err == nil || !strings.Contains(err.Error(), "issued by a different provider") {
		t.Errorf("token from another issuer: %v", err)
	}
	mallory := unverifiedClaims(t, p.token(t, enrollClientID, "mallory"))
	if len(mallory.Groups) != 0 || mallory.Email != "mallory@example.com" {
		t.Errorf("mallory's claims: %+v", mallory)
	}

	p = p.restart(t, writeJWKS(t, "key-2"), 600)
	if _, err := verifier.Verify(ctx, p.token(t, enrollClientID, "bob")); err != nil {
		t.Errorf("token signed with the rotated key: %v", err)
	}

	short := startOIDCProvider(t, 0, writeJWKS(t, "short-1"), 1)
	sprov, err := oidc.NewProvider(ctx, short.issuer)
	if err != nil {
		t.Fatal(err)
	}
	raw = short.token(t, enrollClientID, "alice")
	waitExpired(t, raw)
	var expired *oidc.TokenExpiredError
	if _, err := sprov.Verifier(&oidc.Config{ClientID: enrollClientID}).Verify(ctx, raw); !errors.As(err, &expired) {
		t.Errorf("expired token: %v", err)
	}
}
