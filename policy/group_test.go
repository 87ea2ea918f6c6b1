package policy

import (
	"fmt"
	"strings"
	"testing"
)

func groupKey(g string) (string, bool) {
	k, ok := appendGroupKey(nil, g)
	return string(k), ok
}

func TestGroupKeysEqual(t *testing.T) {
	const dn = "CN=Backup Servers,OU=Groups,DC=corp,DC=example,DC=com"
	same := [][]string{
		{dn,
			"cn=backup servers,ou=groups,dc=corp,dc=example,dc=com",
			"CN=Backup Servers, OU=Groups, DC=corp, DC=example, DC=com",
			"CN = Backup Servers , OU = Groups,DC=corp ,DC=example,DC=COM",
			"  " + dn + "  ",
			"CN=Backup\\20Servers,OU=Groups,DC=corp,DC=example,DC=com",
			"CN=backup servers,ou=groups,dc=corp,dc=example,dc=com\t"},
		{`CN=Smith\, John,OU=Users,DC=corp`, `cn=smith\2C john,ou=users,dc=corp`, `CN=Smith\2c John, OU=Users, DC=corp`},
		{`CN=a\+b,DC=x`, `CN=a\2Bb,DC=x`},
		{`CN=Éclair,DC=x`, `CN=éclair,DC=x`, `CN=\C3\89clair,DC=x`, `cn=\c3\a9CLAIR,dc=X`},
		{`CN=a=b,DC=x`, `CN=a\=b,DC=x`},
		{`CN=\#hash,DC=x`, `CN=\23hash,DC=x`},
		{"okta:backup-proxies", "OKTA:Backup-Proxies", "okta: backup-proxies ", "Okta:BACKUP-PROXIES"},
		{"okta:00g1emaKYZTWRYYRRTSK", "okta:00G1EMAKYZTWRYYRRTSK"},
		{"backup-servers", "Backup-Servers", " backup-servers "},
		// Unicode simple folding: the Kelvin sign folds with k, long s with s.
		{"kelvin", "\u212aelvin"},
		{"okta:sales", "okta:\u017fales"},
	}
	for _, set := range same {
		want, ok := groupKey(set[0])
		if !ok {
			t.Fatalf("%q invalid", set[0])
		}
		for _, g := range set[1:] {
			got, ok := groupKey(g)
			if !ok || got != want {
				t.Errorf("key(%q) = %q, %v; want %q (same as %q)", g, got, ok, want, set[0])
			}
		}
	}
}

func TestGroupKeysDiffer(t *testing.T) {
	pairs := [][2]string{
		{"CN=Backup Servers,DC=x", "CN=Backup  Servers,DC=x"}, // inner whitespace is significant
		{"CN=Backup Servers,DC=x", "CN=BackupServers,DC=x"},
		{`CN=a\ ,DC=x`, `CN=a,DC=x`},         // escaped trailing space is significant
		{`CN=\ a,DC=x`, `CN=a,DC=x`},         // escaped leading space too
		{`CN=a\,b,DC=x`, `CN=a,CN=b,DC=x`},   // escaped comma is not a separator
		{`CN=a\+b,DC=x`, `CN=a+CN=b,DC=x`},   // nor is an escaped plus
		{"CN=a,DC=x", "OU=a,DC=x"},           // attribute types matter
		{"CN=a,OU=b,DC=x", "OU=b,CN=a,DC=x"}, // so does RDN order
		{"okta:backup", "backup"},            // kinds never mix
		{"okta:cn=a", "cn=a"},
		{"okta:x", "n:okta:x"},
		{`CN=a\5c,DC=x`, `CN=a\\5c,DC=x`},
		{"CN=\xff,DC=x", `CN=\5cff,DC=x`}, // a raw byte is not the text "\ff"
		{"CN=a,DC=x", "CN=a,DC=x,DC=y"},
	}
	for _, p := range pairs {
		a, okA := groupKey(p[0])
		b, okB := groupKey(p[1])
		if okA && okB && a == b {
			t.Errorf("%q and %q share the key %q", p[0], p[1], a)
		}
	}
}

func TestGroupKeysInvalid(t *testing.T) {
	for _, g := range []string{
		"", "   ", "okta:", "okta:   ",
		"CN=a,,DC=x", "=a,DC=x", "CN=,DC=x", "CN=a,DC=", "CN=a,", ",CN=a",
		`CN=a\`, `CN=a\q,DC=x`, `CN=a\4,DC=x`, `CN="quoted",DC=x`, "CN=a;DC=x",
		"CN=a<b,DC=x", "CN=a\x00,DC=x", "C N=a,DC=x", "CN=a,DC",
	} {
		if k, ok := groupKey(g); ok {
			t.Errorf("groupKey(%q) = %q, valid; want invalid", g, k)
		}
	}
}

func TestPrincipalKeys(t *testing.T) {
	a := string(appendPrincipalKey(nil, "PROXY01$"))
	for _, s := range []string{"proxy01$", "Proxy01$"} {
		if got := string(appendPrincipalKey(nil, s)); got != a {
			t.Errorf("principal %q: key %q; want %q", s, got, a)
		}
	}
	for _, s := range []string{"PROXY01", "PROXY01$ ", "CORP\\PROXY01$", "proxy01$@corp.example.com"} {
		if string(appendPrincipalKey(nil, s)) == a {
			t.Errorf("principal %q matches PROXY01$", s)
		}
	}
	// A principal never matches a group of the same spelling.
	g, _ := groupKey("PROXY01$")
	if g == a {
		t.Error("principal and plain group share a key")
	}
}

func TestFoldMatchesEqualFold(t *testing.T) {
	words := []string{"a", "A", "ß", "ẞ", "K", "\u212a", "s", "\u017f", "Σ", "σ", "ς", "İ", "i", "ı", "Ǆ", "ǅ", "ǆ", "\xff"}
	for _, x := range words {
		for _, y := range words {
			kx, ky := string(appendFold(nil, x)), string(appendFold(nil, y))
			if (kx == ky) != strings.EqualFold(x, y) {
				t.Errorf("fold(%q)==fold(%q) is %v; EqualFold says %v", x, y, kx == ky, strings.EqualFold(x, y))
			}
		}
	}
}

// TestDNFastPathMatchesSlowPath escapes each character of plain DNs in
// hex, which forces the decoding path, and expects the same key as the
// plain-ASCII fast path.
func TestDNFastPathMatchesSlowPath(t *testing.T) {
	checked := 0
	for _, dn := range []string{ops, "cn=a b c ,dc=x", "CN=Backup-Servers_2 (old),OU=x.y,DC=corp"} {
		want, ok := groupKey(dn)
		if !ok {
			t.Fatalf("%q invalid", dn)
		}
		for i := 0; i < len(dn); i++ {
			c := dn[i]
			// Only value characters: after '=' up to the next ',' or '+'.
			eq := strings.LastIndexByte(dn[:i], '=')
			sep := strings.LastIndexAny(dn[:i], ",+")
			if c == ',' || c == '=' || eq < 0 || sep > eq || (c == ' ' && (i == eq+1 || i+1 == len(dn) || dn[i+1] == ',' || dn[i+1] == ' ')) {
				continue
			}
			escaped := dn[:i] + fmt.Sprintf(`\%02X`, c) + dn[i+1:]
			if got, ok := groupKey(escaped); !ok || got != want {
				t.Errorf("key(%q) = %q; want %q", escaped, got, want)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Errorf("only %d escapes checked", checked)
	}
}
