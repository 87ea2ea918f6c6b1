package certs

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseCertCZMQFixture(t *testing.T) {
	for _, file := range []string{"testdata/czmq/proxy01.key", "testdata/czmq/proxy01.key_secret"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCert(file, data)
		if err != nil {
			t.Fatalf("ParseCert(%s): %v", file, err)
		}
		if c.Public.String() != docPublic {
			t.Errorf("%s: public key %s; want %s", file, c.Public, docPublic)
		}
		wantSecret := strings.HasSuffix(file, "_secret")
		if (c.Secret != nil) != wantSecret {
			t.Errorf("%s: secret present = %v; want %v", file, c.Secret != nil, wantSecret)
		}
		if wantSecret && c.Secret.Z85() != docSecret {
			t.Errorf("%s: wrong secret key", file)
		}
		want := Metadata{{"principal", "PROXY01$"}, {"email", "backup-admins@corp.example.com"}}
		if len(c.Metadata) != len(want) || c.Metadata[0] != want[0] || c.Metadata[1] != want[1] {
			t.Errorf("%s: metadata %v; want %v", file, c.Metadata, want)
		}
	}
}

func TestParseCertAccepts(t *testing.T) {
	key := `    public-key = "` + docPublic + `"` + "\n"
	tests := []struct {
		name, in  string
		principal string
	}{
		{"unquoted value (pyzmq metadata)", "metadata\n    principal = PROXY01$\ncurve\n" + key, "PROXY01$"},
		{"single quotes", "metadata\n    principal = 'say \"hi\"'\ncurve\n" + key, `say "hi"`},
		{"trailing comment after quote", "metadata\n    principal = \"a\"   # c\ncurve\n" + key, "a"},
		{"unquoted with comment", "metadata\n    principal = a b  # c\ncurve\n" + key, "a b"},
		{"no spaces around =", "metadata\n    principal=x\ncurve\n" + key, "x"},
		{"CRLF line ends", "metadata\r\n    principal = \"x\"\r\ncurve\r\n" + strings.TrimSuffix(key, "\n") + "\r\n", "x"},
		{"no final newline", "metadata\n    principal = x\ncurve\n" + strings.TrimSuffix(key, "\n"), "x"},
		{"unknown section ignored", "other\n    a = b\n        deeper = c\ncurve\n" + key + "metadata\n    principal = x\n", "x"},
		{"indented comment and blank lines", "\n\ncurve\n        # comment\n" + key + "\n", ""},
		{"empty value", "metadata\n    principal =\ncurve\n" + key, ""},
		{"empty metadata section", "metadata\ncurve\n" + key, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCert("in", []byte(tt.in))
			if err != nil {
				t.Fatalf("ParseCert: %v", err)
			}
			if c.Public.String() != docPublic {
				t.Fatalf("public key %s", c.Public)
			}
			if got, _ := c.Metadata.Get("principal"); got != tt.principal {
				t.Fatalf("principal %q; want %q", got, tt.principal)
			}
		})
	}
}

func TestParseCertRejects(t *testing.T) {
	pub := `    public-key = "` + docPublic + `"`
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"tab indentation", "curve\n\tpublic-key = \"" + docPublic + "\"\n", 2, "tab in indentation"},
		{"odd indentation", "curve\n   public-key = \"" + docPublic + "\"\n", 2, "not a multiple of 4"},
		{"too deep", "curve\n        public-key = \"" + docPublic + "\"\n", 2, "indented 2 levels deep"},
		{"missing =", "curve\n    public-key \"" + docPublic + "\"\n", 2, "expected '=' after name"},
		{"unterminated quote", "curve\n    public-key = \"" + docPublic + "\n", 2, "unterminated \" quote"},
		{"junk after quote", "curve\n" + pub + " x\n", 2, "unexpected text"},
		{"bad name", "metadata\n    prin*cipal = x\ncurve\n" + pub + "\n", 2, "invalid character '*' in name \"prin*\""},
		{"name then junk", "metadata\n    principal x\ncurve\n" + pub + "\n", 2, "expected '=' after name \"principal\", found \"x\""},
		{"name starts with bad char", "metadata\n    *x = y\ncurve\n" + pub + "\n", 2, "expected a name"},
		{"slash at name end", "metadata/\n", 1, "starts or ends with '/'"},
		{"control character", "metadata\n    a = \"b\x01\"\ncurve\n" + pub + "\n", 2, "control character"},
		{"invalid utf-8", "metadata\n    a = \"\xff\"\n", 2, "invalid UTF-8"},
		{"no curve section", "metadata\n    a = b\n", 0, "no curve section"},
		{"no public key", "curve\n    secret-key = \"" + docSecret + "\"\n", 1, "curve section has no public-key"},
		{"short public key", "curve\n    public-key = \"abc\"\n", 2, "want 40 z85 characters, got 3"},
		{"bad z85 public key", "curve\n    public-key = \"" + docPublic[:39] + ",\"\n", 2, "not in the z85 alphabet"},
		{"bad secret key", "curve\n" + pub + "\n    secret-key = \"" + docSecret[:39] + ",\"\n", 3, "bad curve/secret-key: not valid z85"},
		{"mismatched secret", "curve\n" + pub + "\n    secret-key = \"" + strings.Repeat("0", 40) + "\"\n", 0, "does not belong"},
		{"unknown curve property", "curve\n" + pub + "\n    private-key = x\n", 3, "unknown property curve/private-key"},
		{"duplicate public key", "curve\n" + pub + "\n" + pub + "\n", 3, "duplicate property curve/public-key"},
		{"duplicate section", "curve\n" + pub + "\ncurve\n" + pub + "\n", 3, "duplicate section \"curve\""},
		{"duplicate metadata", "metadata\n    a = 1\n    a = 2\ncurve\n" + pub + "\n", 3, "duplicate property metadata/a"},
		{"section with value", "curve = x\n" + pub + "\n", 1, "must not have a value"},
		{"property without value", "metadata\n    principal\ncurve\n" + pub + "\n", 2, "has no value (missing '=')"},
		{"nested property", "metadata\n    a = 1\n        b = 2\ncurve\n" + pub + "\n", 3, "unexpected line nested under metadata/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCert("node.key", []byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseCert error = %v; want a *ParseError", err)
			}
			if pe.File != "node.key" || pe.Line != tt.line || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %q (line %d); want line %d and %q", err, pe.Line, tt.line, tt.msg)
			}
			prefix := "certs: node.key: "
			if tt.line > 0 {
				prefix = "certs: node.key:" + strconv.Itoa(tt.line) + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error %q does not start with %q", err, prefix)
			}
			if strings.Contains(err.Error(), docSecret) {
				t.Fatalf("error %q reveals the secret key", err)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	orig := time.Date(2026, 11, 25, 14, 3, 22, 0, time.Local)
	nowFunc = func() time.Time { return orig }
	t.Cleanup(func() { nowFunc = time.Now })

	pub, _ := ParsePublicKey(docPublic)
	sec, _ := ParseSecretKey(docSecret)
	c := &Cert{Public: pub, Secret: &sec}
	c.Metadata.Set("principal", "PROXY01$")
	c.Metadata.Set("quote", `say "hi"`)

	secret, err := c.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	want := `#   ****  Generated on 2026-11-25 14:03:22 by zapgate  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
    principal = "PROXY01$"
    quote = 'say "hi"'
curve
    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
`
	if string(secret) != want {
		t.Fatalf("MarshalSecret:\n%s\nwant:\n%s", secret, want)
	}
	public, err := c.MarshalPublic()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(public, []byte(docSecret)) || bytes.Contains(public, []byte("secret-key")) {
		t.Fatalf("public file holds the secret key:\n%s", public)
	}
	// The public file differs from CZMQ's fixture only in the generator.
	fixture, _ := os.ReadFile("testdata/czmq/proxy01.key")
	c.Metadata = Metadata{{"principal", "PROXY01$"}, {"email", "backup-admins@corp.example.com"}}
	public, _ = c.MarshalPublic()
	if got := strings.Replace(string(public), "by zapgate", "by CZMQ", 1); got != string(fixture) {
		t.Fatalf("MarshalPublic:\n%s\nCZMQ writes:\n%s", got, fixture)
	}
	for _, data := range [][]byte{secret, public} {
		back, err := ParseCert("rt", data)
		if err != nil {
			t.Fatal(err)
		}
		if back.Public != pub {
			t.Fatal("round trip changed the public key")
		}
	}
	back, _ := ParseCert("rt", secret)
	if back.Secret == nil || *back.Secret != sec {
		t.Fatal("round trip lost the secret key")
	}
	if v, _ := back.Metadata.Get("quote"); v != `say "hi"` {
		t.Fatalf("round trip changed a value to %q", v)
	}
	if _, err := (&Cert{Public: pub}).MarshalSecret(); err == nil {
		t.Fatal("MarshalSecret without a secret key succeeded")
	}
}

func TestMetadataValidate(t *testing.T) {
	bad := []struct {
		m    Metadata
		want string
	}{
		{Metadata{{"a b", "x"}}, "invalid character ' '"},
		{Metadata{{"", "x"}}, "empty name"},
		{Metadata{{"a\nb", "x"}}, "invalid character"},
		{Metadata{{"a", "line\nbreak"}}, "control character"},
		{Metadata{{"a", "cr\r"}}, "control character"},
		{Metadata{{"a", `both ' and "`}}, "both quote characters"},
		{Metadata{{"a", "\xff"}}, "not valid UTF-8"},
		{Metadata{{"a", "1"}, {"a", "2"}}, "duplicate name"},
		{Metadata{{"public-key", "x"}}, "reserved"},
		{Metadata{{"secret-keyring", "x"}}, "reserved"},
		{Metadata{{"/a", "x"}}, "starts or ends with '/'"},
	}
	for _, tt := range bad {
		err := tt.m.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%q) = %v; want %q", tt.m, err, tt.want)
		}
		c := &Cert{Metadata: tt.m}
		if _, err := c.MarshalPublic(); err == nil {
			t.Errorf("MarshalPublic with metadata %q succeeded", tt.m)
		}
	}
	ok := Metadata{{"principal", "CN=Proxy 01,OU=Servers"}, {"x.y-z_@$&+/w", "tab\there 'q'"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%q) = %v", ok, err)
	}
}

func TestMetadataSetGetDelete(t *testing.T) {
	var m Metadata
	m.Set("a", "1")
	m.Set("b", "2")
	m.Set("a", "3")
	if len(m) != 2 || m[0] != (Property{"a", "3"}) || m[1] != (Property{"b", "2"}) {
		t.Fatalf("Set kept order wrong: %v", m)
	}
	if v, ok := m.Get("b"); !ok || v != "2" {
		t.Fatalf("Get(b) = %q, %v", v, ok)
	}
	if _, ok := m.Get("c"); ok {
		t.Fatal("Get(c) found a missing property")
	}
	m.Delete("a")
	if len(m) != 1 || m[0].Name != "b" {
		t.Fatalf("Delete left %v", m)
	}
}
