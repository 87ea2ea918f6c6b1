package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

func TestEveryStatus(t *testing.T) {
	f := newFixture(t)
	d := mustNew(t, f.sswsConfig(t))
	want := map[string]bool{
		"ACTIVE": true, "PASSWORD_EXPIRED": true,
		"STAGED": false, "PROVISIONED": false, "RECOVERY": false, "LOCKED_OUT": false,
		"SUSPENDED": false, "DEPROVISIONED": false, "SOMETHING_NEW": false, "active": false,
	}
	for status, enabled := range want {
		login := status + "-" + fmt.Sprint(enabled) + "@x.example"
		if status == "active" {
			login = "lower-" + login
		}
		f.srv.AddUser(oktatest.User{Login: login, Status: status})
		f.srv.SetGroups(login, "backup-proxies")
		id := lookup(t, d, login)
		if id.Enabled != enabled {
			t.Errorf("status %s: Enabled = %v, want %v", status, id.Enabled, enabled)
		}
		if enabled != (len(id.Groups) == 2) {
			t.Errorf("status %s: groups %q (read only for enabled users)", status, id.Groups)
		}
	}
	// A status change is seen by the next Lookup (no caching here).
	f.srv.SetStatus("ACTIVE-true@x.example", "SUSPENDED")
	if lookup(t, d, "ACTIVE-true@x.example").Enabled {
		t.Error("suspended user still enabled")
	}
}

func TestGroupsAcrossPagesByNameAndID(t *testing.T) {
	f := newFixture(t)
	id := f.srv.AddUser(oktatest.User{Login: "proxy01@corp.example.com", Profile: map[string]any{"displayName": "Proxy 01"}})
	var names, want []string
	for i := range 8 {
		n := fmt.Sprintf("group %d, with; \"odd\" <chars>", i)
		names = append(names, n)
		want = append(want, "okta:"+n)
	}
	f.srv.SetGroups(id, names...)
	for _, n := range names {
		want = append(want, "okta:"+f.srv.GroupID(n))
	}
	slices.Sort(want)
	f.srv.SetPageSize(3)
	d := mustNew(t, f.rsaConfig(t))
	got := lookup(t, d, "proxy01@corp.example.com")
	if !slices.Equal(got.Groups, want) {
		t.Errorf("groups\n got %q\nwant %q", got.Groups, want)
	}
	if got.Principal != "proxy01@corp.example.com" || got.DisplayName != "Proxy 01" {
		t.Errorf("identity %+v", got)
	}
	if n := f.srv.Count(oktatest.EndpointGroups); n != 3 {
		t.Errorf("%d group pages read, want 3 (8 groups, 3 a page)", n)
	}
	// By id, the principal is still the login.
	if p := lookup(t, d, id).Principal; p != "proxy01@corp.example.com" {
		t.Errorf("lookup by id: principal %q", p)
	}
}

func TestLoginsNeedingEscaping(t *testing.T) {
	f := newFixture(t)
	d := mustNew(t, f.sswsConfig(t))
	logins := []string{"a/b+c?d#e%f@x.example", "o'brien & x y@x.example", "ü@x.example", "..@x.example"}
	for _, l := range logins {
		f.srv.AddUser(oktatest.User{Login: l})
		if p := lookup(t, d, l).Principal; p != l {
			t.Errorf("Lookup(%q).Principal = %q", l, p)
		}
	}
	f.srv.AddUser(oktatest.User{Login: "alice@x.example"})
	for _, p := range []string{"../users", "a/b", "alice", "*", "alice@x.example/groups", "%2e%2e"} {
		_, err := d.Lookup(context.Background(), p)
		if !errors.Is(err, idp.ErrNotFound) || errors.Is(err, idp.ErrUnavailable) {
			t.Errorf("Lookup(%q) = %v, want not found", p, err)
		}
	}
	if n := f.srv.Count(oktatest.EndpointGroups); n != len(logins) {
		t.Errorf("%d groups requests: a crafted principal reached another endpoint", n)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	d := mustNew(t, f.sswsConfig(t))
	for _, p := range []string{"nobody@x.example", ""} {
		_, err := d.Lookup(context.Background(), p)
		if !errors.Is(err, idp.ErrNotFound) || errors.Is(err, idp.ErrUnavailable) {
			t.Errorf("Lookup(%q) = %v, want not found", p, err)
		}
	}
}

func TestServerErrorsAreOutages(t *testing.T) {
	f := newFixture(t)
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	cfg := f.sswsConfig(t)
	cfg.Timeout = 200 * time.Millisecond
	d := mustNew(t, cfg)
	for _, code := range []int{500, 502, 503, 504, 400} {
		f.srv.InjectStatus(code, 1)
		_, err := d.Lookup(context.Background(), "a@x.example")
		if !errors.Is(err, idp.ErrUnavailable) || errors.Is(err, idp.ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprint(code)) {
			t.Errorf("status %d: %v, want unavailable", code, err)
		}
	}
	f.srv.SetDelay(2 * time.Second)
	_, err := d.Lookup(context.Background(), "a@x.example")
	if !errors.Is(err, idp.ErrUnavailable) {
		t.Errorf("slow server: %v, want unavailable", err)
	}
	f.srv.SetDelay(0)
	lookup(t, d, "a@x.example")
}

// TestUnexpectedAnswers runs against a hand-written TLS server that
// answers what Okta never should.
func TestUnexpectedAnswers(t *testing.T) {
	var body, link string
	var mu sync.Mutex
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/groups") {
			if link != "" {
				w.Header().Add("Link", link)
			}
			w.Write([]byte(`[{"id":"00g1","profile":{"name":"g"}}]`))
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	f := &fixture{dir: dir}
	writeCert(t, ca, ts)
	d := mustNew(t, Config{OrgURL: ts.URL, CAFile: ca, APITokenFile: f.writeFile(t, "tok", []byte("t"))})
	cases := []struct{ body, link, want string }{
		{"<html>maintenance</html>", "", "unexpected body"},
		{`{"id":"00u1","status":"ACTIVE","profile":{}}`, "", "unexpected body"},
		{`[]`, "", "unexpected body"},
		{`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x"}}`, `<https://evil.example/api/v1/users/00u1/groups?after=1>; rel="next"`, "refusing next link"},
		{`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x"}}`, `<` + ts.URL + `/api/v1/users/00u2/groups?after=1>; rel="next"`, "refusing next link"},
		{`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@x"}}`, `<` + ts.URL + `/api/v1/users/00u1/groups?limit=200>; rel="next"`, "repeats"},
	}
	for _, c := range cases {
		mu.Lock()
		body, link = c.body, c.link
		mu.Unlock()
		_, err := d.Lookup(context.Background(), "a@x")
		if !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("body %s link %s: %v, want unavailable with %q", c.body, c.link, err, c.want)
		}
	}
}

func TestConcurrencyCap(t *testing.T) {
	f := newFixture(t)
	for i := range 12 {
		f.srv.AddUser(oktatest.User{Login: fmt.Sprintf("n%d@x.example", i), Status: "SUSPENDED"})
	}
	cfg := f.rsaConfig(t)
	cfg.MaxConcurrent = 2
	d := mustNew(t, cfg)
	f.srv.SetDelay(20 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if _, err := d.Lookup(context.Background(), fmt.Sprintf("n%d@x.example", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := f.srv.MaxInFlight(); m > 2 || m < 1 {
		t.Errorf("at most %d requests in flight at the server, want 1..2 (max_concurrent 2)", m)
	}
	if n := f.srv.Count(oktatest.EndpointUser); n != 12 {
		t.Errorf("%d user requests, want 12", n)
	}
}

func TestLookupOnly(t *testing.T) {
	f := newFixture(t)
	d := mustNew(t, f.sswsConfig(t))
	if d.SupportsKeys() {
		t.Error("SupportsKeys without key_attribute")
	}
	if _, ok := d.LookupOnly().(idp.KeyFinder); ok {
		t.Error("LookupOnly is a KeyFinder")
	}
	if _, err := d.FindByKey(context.Background(), [32]byte{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("FindByKey without key_attribute: %v", err)
	}
	f.srv.AddUser(oktatest.User{Login: "a@x.example"})
	if _, err := d.LookupOnly().Lookup(context.Background(), "a@x.example"); err != nil {
		t.Error(err)
	}
}
