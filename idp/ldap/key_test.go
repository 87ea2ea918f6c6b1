package ldap

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
)

func TestKeyConfigDefaults(t *testing.T) {
	for _, c := range []struct {
		flavour, principalAttr string
	}{{FlavourAD, "sAMAccountName"}, {FlavourGeneric, "uid"}} {
		cfg := valid()
		cfg.Flavour = c.flavour
		n, err := cfg.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if n.KeyAttribute != "altSecurityIdentities" || n.KeyPrefix != "CURVE:" || n.PrincipalAttr != c.principalAttr {
			t.Fatalf("%s: key_attribute %q, key_prefix %q, principal_attr %q", c.flavour, n.KeyAttribute, n.KeyPrefix, n.PrincipalAttr)
		}
	}
	for _, bad := range []string{"alt(x", "a=b", "attr)(x=*", "with space", "-x"} {
		cfg := valid()
		cfg.KeyAttribute = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "key_attribute") {
			t.Errorf("key_attribute %q: err = %v", bad, err)
		}
		cfg = valid()
		cfg.PrincipalAttr = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "principal_attr") {
			t.Errorf("principal_attr %q: err = %v", bad, err)
		}
	}
	for _, good := range []string{"altSecurityIdentities", "zapgate-curve-key", "1.3.6.1.4.1.99999.1"} {
		cfg := valid()
		cfg.KeyAttribute = good
		if err := cfg.Validate(); err != nil {
			t.Errorf("key_attribute %q: %v", good, err)
		}
	}
}

func TestKeyFilterEscapes(t *testing.T) {
	// Z85 uses '*', '(', ')' and others that are special in filters.
	got := keyFilter("altSecurityIdentities", `CURVE:a*b(c)d\e`)
	want := `(altSecurityIdentities=CURVE:a\2ab\28c\29d\5ce)`
	if got != want {
		t.Fatalf("keyFilter = %s, want %s", got, want)
	}
	if _, err := goldap.CompileFilter(got); err != nil {
		t.Fatal(err)
	}
	var key [32]byte
	for i := range key {
		key[i] = byte(i * 37)
	}
	z := certs.PublicKey(key).String()
	if _, err := goldap.CompileFilter(keyFilter("altSecurityIdentities", "CURVE:"+z)); err != nil {
		t.Fatalf("filter for %s: %v", z, err)
	}
}

func TestPickKeyMatch(t *testing.T) {
	d, err := New(valid())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const want = "CURVE:rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	entry := func(dn, sam string, keys ...string) *goldap.Entry {
		attrs := map[string][]string{"altSecurityIdentities": keys}
		if sam != "" {
			attrs["sAMAccountName"] = []string{sam}
		}
		return goldap.NewEntry(dn, attrs)
	}
	proxy := entry("CN=PROXY01,OU=Nodes,DC=corp", "PROXY01$", "X509:<I>x<S>y", want)
	// AD matches altSecurityIdentities case-insensitively: an entry whose
	// key differs only in case is returned by the server but is not a match.
	caseTwin := entry("CN=TWIN,OU=Nodes,DC=corp", "TWIN$", strings.ToUpper(want))
	noSAM := entry("CN=NOSAM,OU=Nodes,DC=corp", "", want)
	cases := []struct {
		name    string
		entries []*goldap.Entry
		want    string
		err     error  // errors.Is target; nil means success
		errText string // substring of the error
	}{
		{"one", []*goldap.Entry{proxy}, "PROXY01$", nil, ""},
		{"case twin ignored", []*goldap.Entry{caseTwin, proxy}, "PROXY01$", nil, ""},
		{"only a case twin", []*goldap.Entry{caseTwin}, "", idp.ErrNotFound, "no account"},
		{"none", nil, "", idp.ErrNotFound, "no account"},
		{"dn when no principal attribute", []*goldap.Entry{noSAM}, "CN=NOSAM,OU=Nodes,DC=corp", nil, ""},
		{"two", []*goldap.Entry{proxy, noSAM}, "", nil, "expected exactly one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := d.pickKeyMatch(c.entries, want)
			switch {
			case c.errText == "" && err != nil:
				t.Fatalf("err = %v", err)
			case c.errText != "" && (err == nil || !strings.Contains(err.Error(), c.errText)):
				t.Fatalf("err = %v, want %q", err, c.errText)
			case c.err != nil && !errors.Is(err, c.err):
				t.Fatalf("err = %v, want %v", err, c.err)
			case c.errText != "" && c.err == nil && errors.Is(err, idp.ErrNotFound):
				t.Fatalf("ambiguity reported as not found: %v", err)
			}
			if got != c.want {
				t.Fatalf("principal = %q, want %q", got, c.want)
			}
		})
	}
}

func TestFindByKeyUnreachable(t *testing.T) {
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
	var idpKF idp.KeyFinder = d
	_, err = idpKF.FindByKey(context.Background(), [32]byte{1})
	if !errors.Is(err, idp.ErrUnavailable) || errors.Is(err, idp.ErrNotFound) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.FindByKey(ctx, [32]byte{1}); !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("cancelled: err = %v", err)
	}
}
