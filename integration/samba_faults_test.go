//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/idp"
	zldap "github.com/zapgate/zapgate/idp/ldap"
)

// pause stops samba's process group with SIGSTOP: the kernel still
// completes TCP handshakes on its listening sockets, but nothing answers.
// resume (also registered as a cleanup) continues it.
func (s *sambaDC) pause(t *testing.T) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("samba is not running")
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("pausing samba: %v", err)
	}
	t.Cleanup(s.resume)
}

// resume continues samba's process group after pause.
func (s *sambaDC) resume() {
	if s.cmd != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT)
	}
}

// auditRecords exports the authn.connect records of the audit log in dir.
func auditRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	out := mustRun(t, "audit", "export", "--action", "authn.connect", "--format", "jsonl", dir)
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestSambaOutage stops the Samba DC under a running `zapgate serve`
// (security invariant 4): PROXY01$, seen before, keeps relaying on its
// cached identity within the stale grace, and a new connection of it is
// accepted with the audit record marked stale; alice, whom the cache has
// never seen, gets ZAP 300 (audited directory-unavailable, nothing
// granted). The same DC is then restarted: alice is looked up afresh and
// relays, and new grants are no longer marked stale.
func TestSambaOutage(t *testing.T) {
	start := time.Now()
	s := startSamba(t)
	t.Logf("samba provisioned, started and seeded in %s", time.Since(start).Round(time.Millisecond))
	e := sambaServeEnv(t, s, zldap.GroupsInChain, "    ttl: 1s\n    stale_grace: 1m\n    query_timeout: 2s\n", adOps)
	out := startServe(t, e)
	requester := relayProxy(t, e, "proxy01", "before the outage", out)

	s.stop()
	expectStaleRelay(t, e, requester, "proxy01", out)
	alice := nodeClient(t, e, "alice")
	expectUnanswered(t, alice, "principal unseen by the cache")
	outage := len(auditRecords(t, filepath.Join(e.dir, "audit")))

	restart := time.Now()
	s.start(t) // the same DC, not provisioned again
	t.Logf("samba restarted in %s", time.Since(restart).Round(time.Millisecond))
	// The broker's handshake timeout disconnects a node held by ZAP 300; it
	// then reconnects and is asked again. alice is in Ops (nested): once
	// the directory answers, she is accepted and relays.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		reply, err := alice.Request(rctx, "proxy", "task.status")
		rcancel()
		if err == nil {
			if len(reply) != 1 || string(reply[0]) != "done task.status" {
				t.Fatalf("alice's reply after the restart: %q", reply)
			}
			break
		}
		if errors.Is(err, client.ErrHandshake) || errors.Is(err, client.ErrForbidden) {
			t.Fatalf("after samba returned, alice was refused: %v\n%s", err, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after samba returned, alice still gets %v\n%s", err, out)
		}
	}
	fresh := nodeClient(t, e, "proxy01")
	if _, err := retryRequest(fresh, "proxy", "task.status"); err != nil {
		t.Fatalf("PROXY01$ connecting after the restart: %v", err)
	}

	recs := auditRecords(t, filepath.Join(e.dir, "audit"))
	var staleGrant, unavailable bool
	var after []string
	for i, r := range recs {
		user, _ := r["user.name"].(string)
		outcome, _ := r["event.outcome"].(string)
		stale, _ := r["zapgate.stale"].(bool)
		switch {
		case i < outage && user == "PROXY01$" && outcome == "success" && stale:
			staleGrant = true
		case i < outage && user == "alice" && outcome == "failure" && r["event.reason"] == "directory-unavailable":
			unavailable = true
		case i < outage && user == "alice" && outcome == "success":
			t.Errorf("alice was granted during the outage: %v", r)
		case i >= outage && outcome == "success":
			if stale {
				t.Errorf("grant after the restart still marked stale: %v", r)
			}
			after = append(after, user)
		}
	}
	if !staleGrant || !unavailable {
		t.Errorf("audit lacks a stale grant of PROXY01$ (%v) or a directory-unavailable refusal of alice (%v):\n%v", staleGrant, unavailable, recs)
	}
	if !slices.Contains(after, "alice") || !slices.Contains(after, "PROXY01$") {
		t.Errorf("fresh grants after the restart: %v, want alice and PROXY01$", after)
	}
	t.Logf("TestSambaOutage took %s", time.Since(start).Round(time.Millisecond))
}

// TestSambaSilentAndFailover puts servers that accept TCP but never answer
// in front of (and in place of) a Samba DC: a lookup against only silent
// servers ends on the directory's own timeout with ErrUnavailable; a list
// of a refused port, a silent server and Samba fails over to Samba. The
// Samba DC itself is then paused (SIGSTOP: its sockets still accept) and
// continued.
func TestSambaSilentAndFailover(t *testing.T) {
	start := time.Now()
	s := startSamba(t)
	t.Logf("samba provisioned, started and seeded in %s", time.Since(start).Round(time.Millisecond))
	silent := hangingServer(t)
	refused := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	nested := []string{"All Staff", "Backup Servers", "Ops"}

	// cfg is s.config() over LDAPS or StartTLS to the given host:ports.
	// Each URL has its own 3s connect budget (dial, TLS, bind): a silent
	// server costs exactly that, and Samba, single-process on a loaded
	// 2-CPU machine, has taken over 1s to complete TLS and bind. Samba's
	// searches (the in-chain search is the slow one) get 10s each, so a
	// slow answer is not cut into "Time Limit Exceeded".
	const connect = 3 * time.Second
	cfg := func(starttls bool, addrs ...string) zldap.Config {
		c := s.config()
		c.URLs, c.StartTLS, c.ConnectTimeout, c.Timeout = nil, starttls, connect, 10*time.Second
		for _, a := range addrs {
			if starttls {
				c.URLs = append(c.URLs, "ldap://"+a)
			} else {
				c.URLs = append(c.URLs, "ldaps://"+a)
			}
		}
		return c
	}
	// unavailable asserts that a lookup through d fails as unavailable on
	// the directory's own budgets (connect per silent server, 10s for a
	// search on a paused one), well before a generous caller deadline:
	// within the given time (the budgets plus slack for a loaded machine).
	unavailable := func(t *testing.T, d *zldap.Directory, within time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := d.Lookup(ctx, "PROXY01$")
		if el := time.Since(start); el > within {
			t.Fatalf("unavailable after %s, not within %s: %v", el.Round(time.Millisecond), within, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("lookup ran into the caller's 1 minute deadline, not the configured budgets: %v", err)
		}
		if !errors.Is(err, idp.ErrUnavailable) || errors.Is(err, idp.ErrNotFound) {
			t.Fatalf("err = %v, want unavailable", err)
		}
	}
	// found asserts that a lookup through d finds PROXY01$ with its nested
	// groups. Its caller deadline is generous for a loaded machine; the
	// budgets that matter are the directory's own (see cfg).
	found := func(t *testing.T, d *zldap.Directory) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		id, err := d.Lookup(ctx, "PROXY01$")
		if err != nil {
			t.Fatalf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
		if got := groupCNs(id); id.Principal != "PROXY01$" || !id.Enabled || !slices.Equal(got, nested) {
			t.Fatalf("identity = %+v, groups %v", id, got)
		}
	}

	for _, tr := range []struct {
		name     string
		starttls bool
		samba    string
	}{{"ldaps", false, adLDAPSAddr}, {"starttls", true, adLDAPAddr}} {
		t.Run(tr.name, func(t *testing.T) {
			t.Run("only silent servers", func(t *testing.T) {
				// One connect budget each, not the search timeout.
				unavailable(t, newDir(t, cfg(tr.starttls, silent)), connect+3*time.Second)
				unavailable(t, newDir(t, cfg(tr.starttls, refused, silent)), connect+3*time.Second)
			})
			t.Run("silent then samba", func(t *testing.T) {
				found(t, newDir(t, cfg(tr.starttls, silent, tr.samba)))
			})
			t.Run("refused, silent, samba", func(t *testing.T) {
				d := newDir(t, cfg(tr.starttls, refused, silent, tr.samba))
				found(t, d)
				found(t, d) // again, from the pool
				checks := d.CheckURLs(context.Background())
				if len(checks) != 3 || checks[0].Err == nil || checks[1].Err == nil || checks[2].Err != nil {
					t.Fatalf("checks = %+v", checks)
				}
			})
		})
	}

	t.Run("paused samba", func(t *testing.T) {
		d := newDir(t, cfg(false, adLDAPSAddr))
		found(t, d)
		s.pause(t)
		unavailable(t, d, 30*time.Second) // a search on the pooled connection: 10s
		// A second, silent-then-nothing list: still unavailable, not hung.
		unavailable(t, newDir(t, cfg(false, silent, adLDAPSAddr)), 2*connect+4*time.Second)
		s.resume()
		found(t, d)
	})
	t.Logf("TestSambaSilentAndFailover took %s", time.Since(start).Round(time.Millisecond))
}
