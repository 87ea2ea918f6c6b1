//go:build integration

package integration

import (
	"context"
	"testing"
	"time"
)

// TestLDAPFailoverPerURLBudget is issue 11 item 8: a silent server (accepts
// TCP, never answers) ahead of a working slapd costs its own connect budget
// and leaves the working server the rest of the caller's deadline. The
// settings are the defaults (timeout 10s, connect_timeout 2s) under the
// directory cache's default query deadline (query_timeout 5s), over LDAPS
// and StartTLS.
func TestLDAPFailoverPerURLBudget(t *testing.T) {
	s := startSlapd(t)
	silent := hangingServer(t)
	for name, urls := range map[string][]string{
		"ldaps":    {"ldaps://" + silent, s.ldapsURL},
		"starttls": {"ldap://" + silent, s.ldapURL},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := s.config()
			cfg.URLs, cfg.StartTLS, cfg.Timeout = urls, name == "starttls", 0
			d := newDir(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			id, err := d.Lookup(ctx, "alice")
			if err != nil {
				t.Fatalf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
			}
			if id.Principal != "alice" || len(id.Groups) == 0 {
				t.Fatalf("identity %+v", id)
			}
			t.Logf("failed over past the silent server in %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
