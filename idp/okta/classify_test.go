package okta

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

// liveness bounds how long a test waits for a call that must return; it
// turns a hang into a failure with a message, it measures nothing.
const liveness = 20 * time.Second

// handOrg starts a hand-written TLS "org" with handler and returns an
// SSWS config for it.
func handOrg(t *testing.T, handler http.HandlerFunc) Config {
	t.Helper()
	ts := httptest.NewTLSServer(handler)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	f := &fixture{dir: dir}
	ca := filepath.Join(dir, "ca.pem")
	writeCert(t, ca, ts)
	return Config{OrgURL: ts.URL, CAFile: ca, APITokenFile: f.writeFile(t, "tok", []byte("t")), Timeout: 5 * time.Second}
}

// oktaNotFound writes Okta's 404 for an unknown resource.
func oktaNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)","errorLink":"E0000007","errorId":"oae1","errorCauses":[]}`))
}

// isOutage reports whether err is an outage and not a decision.
func isOutage(err error) bool {
	return errors.Is(err, idp.ErrUnavailable) && !errors.Is(err, idp.ErrNotFound)
}

// isNotFound reports whether err is a "no such principal" decision only.
func isNotFound(err error) bool {
	return errors.Is(err, idp.ErrNotFound) && !errors.Is(err, idp.ErrUnavailable)
}

// A 404 is an answer only when it is Okta's: a load balancer's or proxy's
// 404 page (wrong org_url, maintenance) is an outage, else every node
// would be refused and the refusal cached.
func TestOnlyOktas404IsNotFound(t *testing.T) {
	var mu sync.Mutex
	var reply func(http.ResponseWriter)
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reply(w)
	})
	d := mustNew(t, cfg)
	cases := []struct {
		name    string
		reply   func(http.ResponseWriter)
		outage  bool
		message string
	}{
		{"okta E0000007", oktaNotFound, false, "not found"},
		{"html page", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			w.Write([]byte("<html><body>404 Not Found</body></html>"))
		}, true, "404"},
		{"empty body", func(w http.ResponseWriter) { w.WriteHeader(404) }, true, "404"},
		{"another okta error", func(w http.ResponseWriter) {
			w.WriteHeader(404)
			w.Write([]byte(`{"errorCode":"E0000022","errorSummary":"The endpoint does not support the provided HTTP method"}`))
		}, true, "E0000022"},
	}
	for _, c := range cases {
		mu.Lock()
		reply = c.reply
		mu.Unlock()
		_, err := d.Lookup(context.Background(), "a@x.example")
		if c.outage && !isOutage(err) || !c.outage && !isNotFound(err) || err == nil || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%s: %v, want outage=%v", c.name, err, c.outage)
		}
	}
}

// A 404 from the groups endpoint for a user found a moment before: an
// outage while the user still exists, not found once it is gone.
func TestGroups404AfterUserFound(t *testing.T) {
	var mu sync.Mutex
	deleted := false
	userCalls := 0
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/groups") {
			oktaNotFound(w)
			return
		}
		userCalls++
		if deleted && userCalls > 1 {
			oktaNotFound(w)
			return
		}
		w.Write([]byte(`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x.example"}}`))
	})
	d := mustNew(t, cfg)
	if _, err := d.Lookup(context.Background(), "a@x.example"); !isOutage(err) || !strings.Contains(err.Error(), "although the user exists") {
		t.Errorf("groups 404, user still there: %v, want an outage", err)
	}
	mu.Lock()
	deleted, userCalls = true, 0
	mu.Unlock()
	if _, err := d.Lookup(context.Background(), "a@x.example"); !isNotFound(err) || !strings.Contains(err.Error(), "deleted") {
		t.Errorf("groups 404, user deleted meanwhile: %v, want not found", err)
	}
}

// A 200 whose body is JSON null, an object or truncated is not a list:
// "null" must never read as "no groups" (a user in a deny group would
// lose it) or "no user has the key".
func TestListBodiesMustBeArrays(t *testing.T) {
	var mu sync.Mutex
	var list string
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/groups") || r.URL.Path == "/api/v1/users" {
			w.Write([]byte(list))
			return
		}
		w.Write([]byte(`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x.example"}}`))
	})
	cfg.KeyAttribute = "curve"
	d := mustNew(t, cfg)
	for _, body := range []string{"null", " null\n", "", `{"id":"00g1"}`, `[{"id":"00g1","profile":{"name":"g"}}`, "<html>ok</html>"} {
		mu.Lock()
		list = body
		mu.Unlock()
		if id, err := d.Lookup(context.Background(), "a@x.example"); !isOutage(err) {
			t.Errorf("groups body %q: %+v, %v, want an outage", body, id, err)
		}
		if p, err := d.FindByKey(context.Background(), [32]byte{1}); !isOutage(err) {
			t.Errorf("search body %q: %q, %v, want an outage", body, p, err)
		}
	}
}

// A 404 from the search endpoint is not "no user has this key".
func TestFindByKeySearch404IsAnOutage(t *testing.T) {
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) { oktaNotFound(w) })
	cfg.KeyAttribute = "curve"
	if p, err := mustNew(t, cfg).FindByKey(context.Background(), [32]byte{1}); !isOutage(err) {
		t.Errorf("search answered 404: %q, %v, want an outage", p, err)
	}
}

// Okta's search index lags behind changes: clearing the key attribute
// must revoke at once, not when the index catches up.
func TestFindByKeyStaleSearchIndex(t *testing.T) {
	f := newFixture(t)
	cfg := f.sswsConfig(t)
	cfg.KeyAttribute = "zapgateCurveKey"
	d := mustNew(t, cfg)
	var k [32]byte
	for i := range k {
		k[i] = byte(i*3 + 1)
	}
	z := certs.PublicKey(k).String()
	f.srv.AddUser(oktatest.User{Login: "proxy01@x.example", Profile: map[string]any{"zapgateCurveKey": z}})
	if p, err := d.FindByKey(context.Background(), k); err != nil || p != "proxy01@x.example" {
		t.Fatalf("FindByKey = %q, %v", p, err)
	}
	f.srv.SetSearchStale(true)
	f.srv.SetProfile("proxy01@x.example", "zapgateCurveKey", "")
	if p, err := d.FindByKey(context.Background(), k); !isNotFound(err) {
		t.Errorf("key cleared, search index stale: %q, %v, want not found", p, err)
	}
	f.srv.DeleteUser("proxy01@x.example")
	if p, err := d.FindByKey(context.Background(), k); !isNotFound(err) {
		t.Errorf("user deleted, search index stale: %q, %v, want not found", p, err)
	}
}

// "." and ".." are path segments a proxy resolves to another endpoint.
func TestDotPrincipalsAreNotFound(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	d := mustNew(t, f.sswsConfig(t))
	for _, p := range []string{".", "..", "a@x.example\n", "a\x00b"} {
		if _, err := d.Lookup(context.Background(), p); !isNotFound(err) {
			t.Errorf("Lookup(%q) = %v, want not found", p, err)
		}
	}
	if n := f.srv.Count(oktatest.EndpointUser) + f.srv.Count(oktatest.EndpointUsers); n != 0 {
		t.Errorf("%d requests for principals that need none", n)
	}
}

// Okta fetches logins with "/" by id only; they are found with a filter,
// whose value is quoted so that it cannot add a clause.
func TestLoginWithSlash(t *testing.T) {
	f := newFixture(t)
	d := mustNew(t, f.sswsConfig(t))
	f.srv.AddUser(oktatest.User{Login: `a/b"c\d@x.example`})
	f.srv.SetGroups(`a/b"c\d@x.example`, "g")
	if id := lookup(t, d, `A/B"C\D@x.example`); id.Principal != `a/b"c\d@x.example` || len(id.Groups) != 2 {
		t.Errorf("identity %+v", id)
	}
	f.srv.AddUser(oktatest.User{Login: "gone/x@x.example", Status: "DEPROVISIONED"})
	for _, p := range []string{"x/y@x.example", `x/" or profile.login sw "a`, "gone/x@x.example"} {
		if _, err := d.Lookup(context.Background(), p); !isNotFound(err) {
			t.Errorf("Lookup(%q) = %v, want not found", p, err)
		}
	}
}

// A next link must name the same endpoint: a sub-resource (or another
// path sharing the prefix) is refused, not read as the next page.
func TestNextLinkMustKeepTheEndpoint(t *testing.T) {
	var base string
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/groups") {
			w.Header().Add("Link", "<"+base+"/api/v1/users/00u1/groups/00g9/users?after=1>; rel=\"next\"")
		}
		if strings.Contains(r.URL.Path, "/groups") {
			w.Write([]byte(`[{"id":"00g1","profile":{"name":"g"}}]`))
			return
		}
		w.Write([]byte(`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x.example"}}`))
	})
	base = cfg.OrgURL
	if _, err := mustNew(t, cfg).Lookup(context.Background(), "a@x.example"); !isOutage(err) || !strings.Contains(err.Error(), "refusing next link") {
		t.Errorf("next link to a sub-resource: %v", err)
	}
}

// A rate-limit wait must not hold a request slot: with max_concurrent 1,
// a lookup waiting for one endpoint's reset must not stop requests to
// another endpoint.
func TestRateLimitWaitReleasesTheSlot(t *testing.T) {
	limited := make(chan struct{})
	var once sync.Once
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/users" {
			w.Write([]byte(`[]`))
			return
		}
		now := time.Now()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`))
		once.Do(func() { close(limited) })
	})
	cfg.MaxConcurrent = 1
	cfg.MaxRateLimitWait = 2 * time.Hour
	d := mustNew(t, cfg)
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() {
		_, err := d.Lookup(ctxA, "a@x.example")
		doneA <- err
	}()
	<-limited
	// Lookup A now waits an hour for the reset of its endpoint.
	ctxB, cancelB := context.WithTimeout(context.Background(), liveness)
	defer cancelB()
	checks := d.CheckAPI(ctxB)
	if len(checks) != 1 || checks[0].Err != nil {
		t.Errorf("another endpoint while a lookup waits for a rate-limit reset: %+v", checks)
	}
	cancelA()
	if err := <-doneA; !isOutage(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled rate-limit wait: %v", err)
	}
}

// A slow token endpoint must not hold a lookup past its context: the
// token request runs with Config.Timeout, the lookup stops waiting when
// its context ends.
func TestTokenWaitHonoursTheContext(t *testing.T) {
	asked := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/v1/token" {
			once.Do(func() { close(asked) })
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	k := testRSAKey(t)
	f := &fixture{dir: t.TempDir()}
	cfg.APITokenFile = ""
	cfg.ClientID = "0oazapgate"
	cfg.PrivateKeyFile = f.writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	cfg.Timeout = time.Hour
	d := mustNew(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.Lookup(ctx, "a@x.example")
		done <- err
	}()
	<-asked
	cancel()
	select {
	case err := <-done:
		if !isOutage(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("lookup cancelled during the token request: %v", err)
		}
	case <-time.After(liveness):
		t.Fatal("the lookup did not return after its context was cancelled during the token request")
	}
}

// When several requests meet a 401 with the same revoked token, one new
// token is fetched, not one per request.
func TestRevokedTokenReplacedOnceUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	for i := range 8 {
		f.srv.AddUser(oktatest.User{Login: fmt.Sprintf("n%d@x.example", i), Status: "SUSPENDED"})
	}
	cfg := f.rsaConfig(t)
	cfg.MaxConcurrent = 8
	d := mustNew(t, cfg)
	lookup(t, d, "n0@x.example")
	f.srv.RevokeTokens()
	// Hold the server's answers so that all eight requests carry the
	// revoked token before the first 401 arrives.
	f.srv.SetDelay(100 * time.Millisecond)
	f.srv.ResetCounts()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := d.Lookup(context.Background(), fmt.Sprintf("n%d@x.example", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.srv.Count(oktatest.EndpointToken); n != 1 {
		t.Errorf("%d token requests after one revocation, want 1", n)
	}
}

// A token endpoint that is rate limited or failing has not refused the
// credentials: an outage, not ErrAuth.
func TestTokenEndpointFailureIsNotAuth(t *testing.T) {
	var mu sync.Mutex
	code := http.StatusServiceUnavailable
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(`{"error":"invalid_client","error_description":"x"}`))
	})
	k := testRSAKey(t)
	f := &fixture{dir: t.TempDir()}
	cfg.APITokenFile = ""
	cfg.ClientID = "0oazapgate"
	cfg.PrivateKeyFile = f.writeFile(t, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	d := mustNew(t, cfg)
	for _, c := range []int{503, 500, 429, 401, 400} {
		mu.Lock()
		code = c
		mu.Unlock()
		_, err := d.Lookup(context.Background(), "a@x.example")
		if !isOutage(err) || errors.Is(err, ErrAuth) != (c == 401 || c == 400) {
			t.Errorf("token endpoint %d: %v (ErrAuth only for 400/401)", c, err)
		}
	}
}

// The same user on two search pages (the list moved while it was read)
// is one user, not a duplicate key.
func TestFindByKeySameUserOnTwoPages(t *testing.T) {
	var k [32]byte
	z := certs.PublicKey(k).String()
	u := `{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x.example","curve":"` + z + `"}}`
	var base string
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/users" && r.URL.Query().Get("after") == "":
			w.Header().Add("Link", "<"+base+"/api/v1/users?after=1>; rel=\"next\"")
			w.Write([]byte("[" + u + "]"))
		case r.URL.Path == "/api/v1/users":
			w.Write([]byte("[" + u + "]"))
		default:
			w.Write([]byte(u))
		}
	})
	base = cfg.OrgURL
	cfg.KeyAttribute = "curve"
	if p, err := mustNew(t, cfg).FindByKey(context.Background(), k); err != nil || p != "a@x.example" {
		t.Errorf("FindByKey = %q, %v", p, err)
	}
}

// A bogus X-Rate-Limit-Reset (milliseconds instead of seconds, centuries
// ahead) must not stop the endpoint for good: it counts as a reset without
// a usable time (a short pause).
func TestBogusResetDoesNotStopTheEndpoint(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	cfg := handOrg(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			w.Header().Set("X-Rate-Limit-Remaining", "0")
			w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(time.Now().UnixMilli(), 10))
		}
		w.Write([]byte(`{"id":"00u1","status":"SUSPENDED","profile":{"login":"a@x.example"}}`))
	})
	cfg.MaxRateLimitWait = 5 * time.Second
	d := mustNew(t, cfg)
	lookup(t, d, "a@x.example")
	if _, err := d.Lookup(context.Background(), "a@x.example"); err != nil {
		t.Errorf("after a bogus reset: %v", err)
	}
}
