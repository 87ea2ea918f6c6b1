package certs

import (
	"bytes"
	"errors"
	"testing"

	zmq "github.com/pebbe/zmq4"
)

// Seeds live in testdata/fuzz/FuzzParseCert and testdata/fuzz/FuzzZ85Decode.

func FuzzParseCert(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCert("fuzz", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if c.Secret != nil {
			if derived, err := c.Secret.Public(); err != nil || derived != c.Public {
				t.Fatal("accepted a secret key that does not match the public key")
			}
		}
		out, err := c.MarshalPublic()
		if err != nil {
			return // metadata that cannot be written (e.g. reserved names)
		}
		back, err := ParseCert("again", out)
		if err != nil {
			t.Fatalf("re-parsing our own output failed: %v\n%s", err, out)
		}
		if back.Public != c.Public || back.Secret != nil || len(back.Metadata) != len(c.Metadata) {
			t.Fatalf("round trip changed the certificate:\n%s", out)
		}
		for i := range c.Metadata {
			if back.Metadata[i] != c.Metadata[i] {
				t.Fatalf("round trip changed %q to %q", c.Metadata[i], back.Metadata[i])
			}
		}
	})
}

func FuzzZ85Decode(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := Z85Decode(s)
		if err != nil {
			if !errors.Is(err, ErrZ85) {
				t.Fatalf("error %v does not wrap ErrZ85", err)
			}
			return
		}
		enc, err := Z85Encode(raw)
		if err != nil || enc != s {
			t.Fatalf("Z85Encode(Z85Decode(%q)) = %q, %v", s, enc, err)
		}
		if len(s) > 0 && !bytes.Equal([]byte(zmq.Z85decode(s)), raw) {
			t.Fatalf("libzmq decodes %q differently", s)
		}
	})
}
