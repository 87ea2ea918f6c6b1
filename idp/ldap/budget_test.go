package ldap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
)

// TestEachURLHasItsOwnConnectBudget is issue 11 item 8: a silent server
// (accepts TCP, never answers) costs its own connect budget, not the
// operation timeout and not the next server's time. With the default
// Timeout (10s, for searches) and no caller deadline, two silent servers
// are each given up on within the default connect budget.
func TestEachURLHasItsOwnConnectBudget(t *testing.T) {
	a, b := silentServer(t), silentServer(t)
	for name, mod := range map[string]func(*Config){
		"ldaps":    func(c *Config) { c.URLs = []string{"ldaps://" + a, "ldaps://" + b} },
		"starttls": func(c *Config) { c.URLs, c.StartTLS = []string{"ldap://" + a, "ldap://" + b}, true },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			mod(&cfg)
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.cfg.Timeout != DefaultTimeout || d.cfg.ConnectTimeout != DefaultConnectTimeout {
				t.Fatalf("defaults: timeout %s, connect_timeout %s", d.cfg.Timeout, d.cfg.ConnectTimeout)
			}
			start := time.Now()
			_, err = d.Lookup(context.Background(), "alice")
			el := time.Since(start)
			if !errors.Is(err, idp.ErrUnavailable) {
				t.Fatalf("err = %v, want unavailable", err)
			}
			// Two connect budgets, with slack for a loaded machine; the
			// search timeout (10s) must not apply to connecting.
			if el < 2*DefaultConnectTimeout || el > 2*DefaultConnectTimeout+3*time.Second {
				t.Fatalf("two silent servers took %s; want each to cost connect_timeout %s", el, DefaultConnectTimeout)
			}
		})
	}
}

// TestConnectBudgetIsPerURL: under a caller deadline that allows for
// one silent server plus a margin, each URL still gets its own fresh
// connect budget rather than what the previous one left of a shared one:
// the second silent server is given up on by its own budget, before the
// caller's deadline.
func TestConnectBudgetIsPerURL(t *testing.T) {
	a, b := silentServer(t), silentServer(t)
	cfg := valid()
	cfg.URLs = []string{"ldaps://" + a, "ldaps://" + b}
	cfg.ConnectTimeout = 300 * time.Millisecond
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = d.Lookup(ctx, "alice")
	if el := time.Since(start); el < 600*time.Millisecond || el > 5*time.Second || ctx.Err() != nil {
		t.Fatalf("took %s (caller ctx %v); want two budgets of 300ms", el, ctx.Err())
	}
	if !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectTimeoutDefaults(t *testing.T) {
	for _, tc := range []struct{ timeout, connect, want time.Duration }{
		{0, 0, DefaultConnectTimeout},
		{time.Second, 0, time.Second},                // never more than timeout
		{30 * time.Second, 0, DefaultConnectTimeout}, // not the search timeout
		{time.Second, 5 * time.Second, 5 * time.Second},
	} {
		cfg := valid()
		cfg.Timeout, cfg.ConnectTimeout = tc.timeout, tc.connect
		n, err := cfg.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if n.ConnectTimeout != tc.want {
			t.Errorf("timeout %s connect_timeout %s: got %s, want %s", tc.timeout, tc.connect, n.ConnectTimeout, tc.want)
		}
	}
	cfg := valid()
	cfg.ConnectTimeout = -time.Second
	if _, err := cfg.normalize(); err == nil {
		t.Error("negative connect_timeout accepted")
	}
}

// TestServerTimeLimitCoversTimeout: the server-side limit never stops a
// search before the client's own Timeout, even on a server (Samba) that
// counts whole seconds from the start of the current one.
func TestServerTimeLimitCoversTimeout(t *testing.T) {
	for timeout, want := range map[time.Duration]int{
		200 * time.Millisecond: 2, time.Second: 2, 1500 * time.Millisecond: 3, 10 * time.Second: 11,
	} {
		d := &Directory{cfg: Config{Timeout: timeout}}
		if got := d.timeLimit(); got != want {
			t.Errorf("timeout %s: time limit %ds, want %ds", timeout, got, want)
		}
	}
}
