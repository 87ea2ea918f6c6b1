package ldap

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/zapgate/zapgate/idp"
)

func TestPrincipalFilterEscapes(t *testing.T) {
	cases := []struct{ tmpl, in, want string }{
		{DefaultGenericFilter, "alice", "(uid=alice)"},
		{DefaultGenericFilter, "*", `(uid=\2a)`},
		{DefaultGenericFilter, "a*", `(uid=a\2a)`},
		{DefaultGenericFilter, "(", `(uid=\28)`},
		{DefaultGenericFilter, ")", `(uid=\29)`},
		{DefaultGenericFilter, `\`, `(uid=\5c)`},
		{DefaultGenericFilter, "x)(uid=*", `(uid=x\29\28uid=\2a)`},
		{DefaultGenericFilter, "nul\x00", `(uid=nul\00)`},
		{DefaultADFilter, "PROXY01$", "(&(objectClass=user)(|(sAMAccountName=PROXY01$)(userPrincipalName=PROXY01$)))"},
		{DefaultADFilter, "*", `(&(objectClass=user)(|(sAMAccountName=\2a)(userPrincipalName=\2a)))`},
		{"(&(objectClass=user)(cn=%s))", "100%s", "(&(objectClass=user)(cn=100%s))"},
	}
	for _, c := range cases {
		got := principalFilter(c.tmpl, c.in)
		if got != c.want {
			t.Errorf("principalFilter(%q, %q) = %q, want %q", c.tmpl, c.in, got, c.want)
		}
		if _, err := goldap.CompileFilter(got); err != nil {
			t.Errorf("filter %q does not compile: %v", got, err)
		}
	}
}

func TestInChainAndSIDFilters(t *testing.T) {
	got := inChainFilter(`CN=a\,b (x)*,DC=corp`)
	want := `(member:1.2.840.113556.1.4.1941:=CN=a\5c,b \28x\29\2a,DC=corp)`
	if got != want {
		t.Errorf("inChainFilter = %q, want %q", got, want)
	}
	if _, err := goldap.CompileFilter(got); err != nil {
		t.Error(err)
	}
	f := sidFilter([][]byte{{1, 2}, {0xff}})
	if f != `(|(objectSid=\01\02)(objectSid=\ff))` {
		t.Errorf("sidFilter = %q", f)
	}
}

func TestLooksLikeDN(t *testing.T) {
	for in, want := range map[string]bool{
		"uid=alice,ou=people,dc=example,dc=com": true,
		"CN=PROXY01,OU=Computers,DC=corp":       true,
		"PROXY01$":                              false,
		"alice@corp.example.com":                false,
		"=b":                                    false,
	} {
		if got := looksLikeDN(in); got != want {
			t.Errorf("looksLikeDN(%q) = %v, want %v", in, got, want)
		}
	}
}

func valid() Config {
	return Config{
		URLs:         []string{"ldaps://127.0.0.1:636"},
		BaseDN:       "dc=example,dc=com",
		BindDN:       "cn=svc,dc=example,dc=com",
		BindPassword: "secret",
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no urls", func(c *Config) { c.URLs = nil }, "at least one url"},
		{"plain refused", func(c *Config) { c.URLs = []string{"ldap://h"} }, "insecure_no_tls"},
		{"plain starttls", func(c *Config) { c.URLs = []string{"ldap://h"}; c.StartTLS = true }, ""},
		{"plain explicit", func(c *Config) { c.URLs = []string{"ldap://h"}; c.InsecureNoTLS = true }, ""},
		{"bad scheme", func(c *Config) { c.URLs = []string{"http://h"} }, "scheme"},
		{"no host", func(c *Config) { c.URLs = []string{"ldaps://"} }, "no host"},
		{"no base", func(c *Config) { c.BaseDN = "" }, "base_dn is required"},
		{"bad base", func(c *Config) { c.BaseDN = "not a dn" }, "base_dn"},
		{"bad flavour", func(c *Config) { c.Flavour = "novell" }, "flavour"},
		{"bad mode", func(c *Config) { c.GroupMode = "magic" }, "group_mode"},
		{"inchain generic", func(c *Config) { c.Flavour = FlavourGeneric; c.GroupMode = GroupsInChain }, "needs flavour"},
		{"tokengroups generic", func(c *Config) { c.Flavour = FlavourGeneric; c.GroupMode = GroupsTokenGroups }, "needs flavour"},
		{"walk ad", func(c *Config) { c.GroupMode = GroupsWalk }, ""},
		{"no placeholder", func(c *Config) { c.PrincipalFilter = "(uid=alice)" }, "placeholder"},
		{"bad filter", func(c *Config) { c.PrincipalFilter = "(uid=%s" }, "principal_filter"},
		{"bad group filter", func(c *Config) { c.GroupFilter = "member=%s))" }, "group_filter"},
		{"no password", func(c *Config) { c.BindPassword = "" }, "password is empty"},
		{"anonymous", func(c *Config) { c.BindDN = ""; c.BindPassword = "" }, ""},
		{"missing ca", func(c *Config) { c.CAFile = "/nonexistent/ca.pem" }, "ca_file"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid()
			c.mod(&cfg)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("no error, want %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestDefaultsDoNotMutate(t *testing.T) {
	cfg := valid()
	n, err := cfg.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Flavour != "" || cfg.Timeout != 0 || cfg.PrincipalFilter != "" {
		t.Fatalf("caller's config was modified: %+v", cfg)
	}
	if n.Flavour != FlavourAD || n.GroupMode != GroupsInChain || n.PrincipalFilter != DefaultADFilter ||
		n.DisplayAttr != "displayName" || n.GroupBase != cfg.BaseDN || n.Timeout != DefaultTimeout {
		t.Fatalf("ad defaults: %+v", n)
	}
	cfg.Flavour = FlavourGeneric
	n, _ = cfg.normalize()
	if n.GroupMode != GroupsMemberOf || n.PrincipalFilter != DefaultGenericFilter || n.DisplayAttr != "cn" {
		t.Fatalf("generic defaults: %+v", n)
	}
}

func TestADAccountState(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	past := toFileTime(now.Add(-time.Hour))
	future := toFileTime(now.Add(time.Hour))
	cases := []struct {
		name, uac, expires, computed string
		enabled                      bool
	}{
		{"normal user", "512", "9223372036854775807", "0", true},
		{"normal computer", "4096", "0", "", true},
		{"absent attrs", "", "", "", true},
		{"disabled", "514", "0", "0", false},
		{"disabled computer", "4098", "0", "0", false},
		{"expired", "512", past, "0", false},
		{"expires later", "512", future, "0", true},
		{"locked", "512", "0", "16", false},
	}
	for _, c := range cases {
		st, err := adAccountState(c.uac, c.expires, c.computed, now)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if st.enabled() != c.enabled {
			t.Errorf("%s: enabled = %v, want %v (%+v)", c.name, st.enabled(), c.enabled, st)
		}
	}
	for _, bad := range [][3]string{{"x", "", ""}, {"", "soon", ""}, {"", "-5", ""}, {"", "", "y"}} {
		if _, err := adAccountState(bad[0], bad[1], bad[2], now); err == nil {
			t.Errorf("adAccountState(%q) accepted garbage", bad)
		}
	}
}

func toFileTime(t time.Time) string {
	return strconv.FormatInt((t.Unix()-fileTimeEpoch)*10_000_000+int64(t.Nanosecond()/100), 10)
}

func TestParseFileTime(t *testing.T) {
	// 2026-01-01T00:00:00Z
	tm, never, err := parseFileTime("134116992000000000")
	if err != nil || never || !tm.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("parseFileTime = %v %v %v", tm, never, err)
	}
}

func TestParseSID(t *testing.T) {
	// S-1-5-21-1004336348-1177238915-682003330-512 (Domain Admins)
	b := []byte{1, 5, 0, 0, 0, 0, 0, 5,
		21, 0, 0, 0,
		0xdc, 0xf4, 0xdc, 0x3b,
		0x83, 0x3d, 0x2b, 0x46,
		0x82, 0x8b, 0xa6, 0x28,
		0x00, 0x02, 0x00, 0x00}
	s, err := parseSID(b)
	if err != nil || s != "S-1-5-21-1004336348-1177238915-682003330-512" {
		t.Fatalf("parseSID = %q, %v", s, err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 0, 0, 0, 0, 0, 5}, b[:len(b)-1]} {
		if _, err := parseSID(bad); err == nil {
			t.Errorf("parseSID(%x) accepted a malformed sid", bad)
		}
	}
}

func TestEnabledFromEntry(t *testing.T) {
	d, err := New(valid())
	if err != nil {
		t.Fatal(err)
	}
	e := goldap.NewEntry("cn=x", map[string][]string{"userAccountControl": {"514"}})
	if ok, err := d.enabled(e); ok || err != nil {
		t.Fatalf("disabled ad account: %v %v", ok, err)
	}
	g := valid()
	g.Flavour = FlavourGeneric
	d, _ = New(g)
	if ok, _ := d.enabled(goldap.NewEntry("cn=x", nil)); !ok {
		t.Fatal("generic account without lock not enabled")
	}
	e = goldap.NewEntry("cn=x", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	if ok, _ := d.enabled(e); ok {
		t.Fatal("ppolicy-locked account enabled")
	}
}

func TestDNSet(t *testing.T) {
	var s dnSet
	s.seen("uid=me,dc=x")
	for _, dn := range []string{"CN=A,DC=x", "cn=a,dc=X", "cn=a, dc=x", "UID=me,DC=x", "cn=b,dc=x"} {
		s.add(dn)
	}
	if strings.Join(s.list, ";") != "CN=A,DC=x;cn=b,dc=x" {
		t.Fatalf("dnSet = %q", s.list)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	os.WriteFile(f, []byte("s3cret\n"), 0o600)
	if s, err := ReadSecret(f, ""); err != nil || s != "s3cret" {
		t.Fatalf("file: %q %v", s, err)
	}
	os.Chmod(f, 0o644)
	if _, err := ReadSecret(f, ""); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("world-readable file: %v", err)
	}
	t.Setenv("ZAPGATE_TEST_PW", "envpw")
	if s, err := ReadSecret("", "ZAPGATE_TEST_PW"); err != nil || s != "envpw" {
		t.Fatalf("env: %q %v", s, err)
	}
	if _, err := ReadSecret("", "ZAPGATE_TEST_UNSET_PW"); err == nil {
		t.Fatal("unset env accepted")
	}
	if _, err := ReadSecret(f, "ZAPGATE_TEST_PW"); err == nil {
		t.Fatal("both accepted")
	}
}

// TestUnreachableIsUnavailable needs no server: a refused port is an outage.
func TestUnreachableIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := valid()
	cfg.URLs = []string{"ldaps://" + addr}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Lookup(context.Background(), "alice")
	if !errors.Is(err, idp.ErrUnavailable) || errors.Is(err, idp.ErrNotFound) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("error does not name the url: %v", err)
	}
	if _, err := d.Lookup(context.Background(), ""); !errors.Is(err, idp.ErrNotFound) {
		t.Fatalf("empty principal: %v", err)
	}
}

// silentServer accepts TCP connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestTimeoutBoundsEachStep checks that Config.Timeout alone (no context
// deadline) bounds a TLS handshake, a StartTLS, a bind and a search that
// never get an answer.
func TestTimeoutBoundsEachStep(t *testing.T) {
	addr := silentServer(t)
	cases := map[string]func(*Config){
		"tls handshake": func(c *Config) { c.URLs = []string{"ldaps://" + addr} },
		"starttls":      func(c *Config) { c.URLs, c.StartTLS = []string{"ldap://" + addr}, true },
		"bind":          func(c *Config) { c.URLs, c.InsecureNoTLS = []string{"ldap://" + addr}, true },
		"search": func(c *Config) {
			c.URLs, c.InsecureNoTLS, c.BindDN, c.BindPassword = []string{"ldap://" + addr}, true, "", ""
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := valid()
			cfg.Timeout = 200 * time.Millisecond
			mod(&cfg)
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			start := time.Now()
			_, err = d.Lookup(context.Background(), "alice")
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("took %s with a 200ms timeout", el)
			}
			if !errors.Is(err, idp.ErrUnavailable) {
				t.Fatalf("err = %v, want unavailable", err)
			}
		})
	}
}
