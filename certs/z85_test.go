package certs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	zmq "github.com/pebbe/zmq4"
)

func TestZ85RFCVector(t *testing.T) {
	// ZeroMQ RFC 32 test vector.
	raw := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	got, err := Z85Encode(raw)
	if err != nil || got != "HelloWorld" {
		t.Fatalf("Z85Encode = %q, %v; want HelloWorld", got, err)
	}
	back, err := Z85Decode("HelloWorld")
	if err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("Z85Decode(HelloWorld) = %x, %v; want %x", back, err, raw)
	}
}

func TestZ85Encode(t *testing.T) {
	tests := []struct {
		in      []byte
		want    string
		wantErr bool
	}{
		{in: nil, want: ""},
		{in: []byte{0, 0, 0, 0}, want: "00000"},
		{in: []byte{0xFF, 0xFF, 0xFF, 0xFF}, want: "%nSc0"},
		{in: []byte{1, 2, 3}, wantErr: true},
		{in: []byte{1, 2, 3, 4, 5}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := Z85Encode(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrZ85) || !strings.HasPrefix(err.Error(), "certs: z85 encode: ") {
				t.Errorf("Z85Encode(%x) error = %v; want a certs: z85 encode error wrapping ErrZ85", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Z85Encode(%x) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestZ85DecodeErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantMsg string
	}{
		{"0000", "length 4 is not a multiple of 5"},
		{"000000", "length 6 is not a multiple of 5"},
		{"0000 ", `character ' ' at offset 4`},
		{"00000\"0000", `character '"' at offset 5`},
		{"0000,", `character ',' at offset 4`},
		{"%nSc1", `group "%nSc1" at offset 0 overflows`},
		{"00000#####", `group "#####" at offset 5 overflows`},
		{"abc\x00e", `character '\x00' at offset 3`},
	}
	for _, tt := range tests {
		_, err := Z85Decode(tt.in)
		if err == nil {
			t.Errorf("Z85Decode(%q) succeeded; want error %q", tt.in, tt.wantMsg)
			continue
		}
		if !errors.Is(err, ErrZ85) || !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "certs: z85 decode: ") {
			t.Errorf("Z85Decode(%q) error = %q; want it to contain %q and wrap ErrZ85", tt.in, err, tt.wantMsg)
		}
	}
}

func TestZ85MatchesLibzmq(t *testing.T) {
	for _, n := range []int{4, 8, 32, 64, 400} {
		for range 50 {
			raw := make([]byte, n)
			if _, err := rand.Read(raw); err != nil {
				t.Fatal(err)
			}
			ours, err := Z85Encode(raw)
			if err != nil {
				t.Fatal(err)
			}
			theirs := zmq.Z85encode(string(raw))
			if ours != theirs {
				t.Fatalf("Z85Encode(%x) = %q; libzmq says %q", raw, ours, theirs)
			}
			back, err := Z85Decode(theirs)
			if err != nil || !bytes.Equal(back, raw) {
				t.Fatalf("Z85Decode(%q) = %x, %v; want %x", theirs, back, err, raw)
			}
			if got := zmq.Z85decode(ours); got != string(raw) {
				t.Fatalf("libzmq decodes our %q to %x; want %x", ours, got, raw)
			}
		}
	}
	// Every character of the alphabet decodes as libzmq decodes it.
	for i := 0; i+5 <= len(z85Alphabet); i++ {
		s := z85Alphabet[i : i+5]
		ours, err := Z85Decode(s)
		if err != nil {
			continue // overflowing groups: libzmq 4.3.4 rejects them too
		}
		if theirs := zmq.Z85decode(s); string(ours) != theirs {
			t.Errorf("Z85Decode(%q) = %x; libzmq says %x", s, ours, theirs)
		}
	}
}
