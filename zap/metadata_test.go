package zap

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMetadataRoundTrip(t *testing.T) {
	cases := []Properties{
		nil,
		{{Name: "Socket-Type", Value: []byte("ROUTER")}},
		{{Name: "X-Roles", Value: []byte{}}, {Name: "a.b_c+d-e", Value: []byte{0, 1, 0xff}}, {Name: strings.Repeat("N", 255), Value: bytes.Repeat([]byte("v"), 300)}},
	}
	for _, props := range cases {
		b, err := EncodeMetadata(props)
		if err != nil {
			t.Fatalf("EncodeMetadata(%v): %v", props, err)
		}
		got, err := ParseMetadata(b)
		if err != nil {
			t.Fatalf("ParseMetadata: %v", err)
		}
		if !equalProps(got, props) {
			t.Fatalf("round trip %v, want %v", got, props)
		}
	}
}

func TestMetadataWireFormat(t *testing.T) {
	b, err := EncodeMetadata(Properties{{Name: "User-Id", Value: []byte("alice")}})
	must(t, err)
	want := append([]byte{7}, "User-Id"...)
	want = append(want, 0, 0, 0, 5)
	want = append(want, "alice"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
}

func TestParseMetadataErrors(t *testing.T) {
	prop := func(name string, vlen []byte, value string) []byte {
		out := append([]byte{byte(len(name))}, name...)
		out = append(out, vlen...)
		return append(out, value...)
	}
	ok := prop("A", []byte{0, 0, 0, 1}, "x")
	cases := []struct {
		name   string
		in     []byte
		offset int
		field  string
	}{
		{"empty name", []byte{0, 0, 0, 0, 0}, 0, "property name"},
		{"truncated name", []byte{5, 'A', 'B'}, 0, "property name"},
		{"lone length byte", append(append([]byte{}, ok...), 3), 7, "property name"},
		{"bad name char", prop("A B", []byte{0, 0, 0, 0}, ""), 0, "property name"},
		{"colon in name", prop("A:", []byte{0, 0, 0, 0}, ""), 0, "property name"},
		{"non-ASCII name", prop("Ä", []byte{0, 0, 0, 0}, ""), 0, "property name"},
		{"truncated value length", []byte{1, 'A', 0, 0}, 2, "property value"},
		{"truncated value", prop("A", []byte{0, 0, 0, 9}, "abc"), 6, "property value"},
		{"huge value length", prop("A", []byte{0x80, 0, 0, 0}, ""), 2, "property value"},
		{"max uint32 length", prop("A", []byte{0xff, 0xff, 0xff, 0xff}, ""), 2, "property value"},
		{"duplicate", append(append([]byte{}, ok...), ok...), 7, "property name"},
		{"duplicate other case", append(prop("X-Roles", []byte{0, 0, 0, 0}, ""), prop("x-roles", []byte{0, 0, 0, 0}, "")...), 12, "property name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetadata(tc.in)
			var pe *ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMetadata) {
				t.Fatalf("ParseMetadata(% x): %v, want a metadata ProtocolError", tc.in, err)
			}
			if pe.Offset != tc.offset || pe.Field != tc.field {
				t.Fatalf("offset %d field %q (%v), want offset %d field %q", pe.Offset, pe.Field, err, tc.offset, tc.field)
			}
		})
	}
}

func TestEncodeMetadataErrors(t *testing.T) {
	cases := []Properties{
		{{Name: ""}},
		{{Name: strings.Repeat("n", 256)}},
		{{Name: "a=b"}},
		{{Name: "A"}, {Name: "a"}},
	}
	for _, props := range cases {
		if _, err := EncodeMetadata(props); !errors.Is(err, ErrMetadata) {
			t.Errorf("EncodeMetadata(%v): %v, want ErrMetadata", props, err)
		}
	}
}

func TestPropertiesGet(t *testing.T) {
	p := Properties{{Name: "X-Roles", Value: []byte("r")}}
	if v, ok := p.Get("x-roles"); !ok || string(v) != "r" {
		t.Fatalf("Get = %q %t", v, ok)
	}
	if _, ok := p.Get("X-Other"); ok {
		t.Fatal("Get found a missing property")
	}
}
