package zap

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func frames(parts ...string) [][]byte {
	out := make([][]byte, len(parts))
	for i, p := range parts {
		out[i] = []byte(p)
	}
	return out
}

var curveKey = strings.Repeat("k", 32)

func TestParseRequestValid(t *testing.T) {
	cases := []struct {
		name   string
		frames [][]byte
		want   Request
	}{
		{"NULL", frames("1.0", "1", "global", "127.0.0.1", "id", "NULL"),
			Request{Version: "1.0", RequestID: []byte("1"), Domain: "global", Address: "127.0.0.1", Identity: []byte("id"), Mechanism: "NULL", Credentials: [][]byte{}}},
		{"PLAIN", frames("1.0", "42", "", "::1", "", "PLAIN", "admin", "secret"),
			Request{Version: "1.0", RequestID: []byte("42"), Domain: "", Address: "::1", Identity: []byte{}, Mechanism: "PLAIN", Credentials: frames("admin", "secret")}},
		{"PLAIN empty credentials", frames("1.0", "1", "d", "a", "i", "PLAIN", "", ""),
			Request{Version: "1.0", RequestID: []byte("1"), Domain: "d", Address: "a", Identity: []byte("i"), Mechanism: "PLAIN", Credentials: frames("", "")}},
		{"CURVE", frames("1.0", "1", "d", "10.1.2.3", "", "CURVE", curveKey),
			Request{Version: "1.0", RequestID: []byte("1"), Domain: "d", Address: "10.1.2.3", Identity: []byte{}, Mechanism: "CURVE", Credentials: frames(curveKey)}},
		{"binary identity and key", [][]byte{[]byte("1.0"), {0}, nil, nil, {0, 0xff}, []byte("CURVE"), make([]byte, 32)},
			Request{Version: "1.0", RequestID: []byte{0}, Identity: []byte{0, 0xff}, Mechanism: "CURVE", Credentials: [][]byte{make([]byte, 32)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest(tc.frames)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if got.Version != tc.want.Version || !bytes.Equal(got.RequestID, tc.want.RequestID) || got.Domain != tc.want.Domain ||
				got.Address != tc.want.Address || !bytes.Equal(got.Identity, tc.want.Identity) || got.Mechanism != tc.want.Mechanism ||
				!equalFrames(got.Credentials, tc.want.Credentials) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			again, err := got.Frames()
			if err != nil {
				t.Fatalf("Frames: %v", err)
			}
			if !equalFrames(again, tc.frames) {
				t.Fatalf("round trip %q, want %q", again, tc.frames)
			}
		})
	}
}

func equalFrames(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestParseRequestErrors(t *testing.T) {
	long := strings.Repeat("a", MaxFieldLen+1)
	cases := []struct {
		name   string
		frames [][]byte
		frame  int
		field  string
		cause  error
	}{
		{"empty", nil, 0, "frames", ErrFrameCount},
		{"five frames", frames("1.0", "1", "d", "a", "i"), 5, "frames", ErrFrameCount},
		{"version 2.0", frames("2.0", "1", "d", "a", "i", "NULL"), 0, "version", ErrVersion},
		{"version 1", frames("1", "1", "d", "a", "i", "NULL"), 0, "version", ErrVersion},
		{"long request id", frames("1.0", long, "d", "a", "i", "NULL"), 1, "request id", ErrText},
		{"domain not UTF-8", frames("1.0", "1", "\xc3\x28", "a", "i", "NULL"), 2, "domain", ErrText},
		{"domain with NUL", frames("1.0", "1", "d\x00", "a", "i", "NULL"), 2, "domain", ErrText},
		{"long domain", frames("1.0", "1", long, "a", "i", "NULL"), 2, "domain", ErrText},
		{"address with newline", frames("1.0", "1", "d", "1.2.3.4\nforged", "i", "NULL"), 3, "address", ErrText},
		{"long identity", frames("1.0", "1", "d", "a", long, "NULL"), 4, "identity", ErrText},
		{"unknown mechanism", frames("1.0", "1", "d", "a", "i", "GSSAPI", "x"), 5, "mechanism", ErrMechanism},
		{"lower-case mechanism", frames("1.0", "1", "d", "a", "i", "curve", curveKey), 5, "mechanism", ErrMechanism},
		{"NULL with credentials", frames("1.0", "1", "d", "a", "i", "NULL", "x"), 6, "credentials", ErrFrameCount},
		{"PLAIN one frame", frames("1.0", "1", "d", "a", "i", "PLAIN", "u"), 7, "credentials", ErrFrameCount},
		{"PLAIN three frames", frames("1.0", "1", "d", "a", "i", "PLAIN", "u", "p", "x"), 8, "credentials", ErrFrameCount},
		{"PLAIN long password", frames("1.0", "1", "d", "a", "i", "PLAIN", "u", long), 7, "credentials", ErrCredentials},
		{"CURVE no key", frames("1.0", "1", "d", "a", "i", "CURVE"), 6, "credentials", ErrFrameCount},
		{"CURVE short key", frames("1.0", "1", "d", "a", "i", "CURVE", curveKey[:31]), 6, "credentials", ErrCredentials},
		{"CURVE long key", frames("1.0", "1", "d", "a", "i", "CURVE", curveKey+"x"), 6, "credentials", ErrCredentials},
		{"CURVE Z85 key", frames("1.0", "1", "d", "a", "i", "CURVE", strings.Repeat("z", 40)), 6, "credentials", ErrCredentials},
		{"CURVE two keys", frames("1.0", "1", "d", "a", "i", "CURVE", curveKey, curveKey), 7, "credentials", ErrFrameCount},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest(tc.frames)
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProtocolError", err)
			}
			if pe.Frame != tc.frame || pe.Field != tc.field || !errors.Is(err, tc.cause) {
				t.Fatalf("got frame %d field %q cause %v (%v), want frame %d field %q cause %v",
					pe.Frame, pe.Field, pe.Err, err, tc.frame, tc.field, tc.cause)
			}
			if !strings.HasPrefix(err.Error(), "zap: request") {
				t.Errorf("message %q lacks the zap: prefix", err)
			}
		})
	}
}

func TestCurveKey(t *testing.T) {
	req, err := ParseRequest(frames("1.0", "1", "d", "a", "i", "CURVE", curveKey))
	must(t, err)
	k, ok := req.CurveKey()
	if !ok || string(k[:]) != curveKey {
		t.Fatalf("CurveKey = %q, %t", k, ok)
	}
	plain, err := ParseRequest(frames("1.0", "1", "d", "a", "i", "PLAIN", strings.Repeat("u", 32), "p"))
	must(t, err)
	if _, ok := plain.CurveKey(); ok {
		t.Fatal("CurveKey of a PLAIN request")
	}
}

func TestReplyRoundTrip(t *testing.T) {
	cases := []Reply{
		{Version: "1.0", RequestID: []byte("1"), Status: StatusOK, UserID: "alice",
			Metadata: Properties{{Name: "X-Roles", Value: []byte("a,b")}, {Name: "X-Empty", Value: []byte{}}}},
		{Version: "1.0", RequestID: []byte("1"), Status: StatusOK, StatusText: "OK", UserID: "CN=Proxy 01,OU=Servers,DC=corp,DC=example"},
		{Version: "1.0", RequestID: []byte("1"), Status: StatusTempFail, StatusText: "overloaded", Metadata: Properties{}},
		{Version: "1.0", RequestID: []byte{}, Status: StatusDenied, StatusText: "unknown key", Metadata: Properties{}},
		{Version: "1.0", RequestID: []byte("9"), Status: StatusInternal, StatusText: "", Metadata: Properties{}},
	}
	for _, r := range cases {
		f, err := r.Frames()
		if err != nil {
			t.Fatalf("Frames(%+v): %v", r, err)
		}
		if len(f) != 7 {
			t.Fatalf("%d frames, want 7", len(f))
		}
		if want := r.Status.String(); len(f[0]) != 0 || string(f[3]) != want {
			t.Fatalf("frames %q: want empty delimiter and status %q", f, want)
		}
		got, err := ParseReply(f)
		if err != nil {
			t.Fatalf("ParseReply: %v", err)
		}
		if r.Metadata == nil {
			r.Metadata = Properties(nil)
		}
		if got.Version != r.Version || !bytes.Equal(got.RequestID, r.RequestID) || got.Status != r.Status ||
			got.StatusText != r.StatusText || got.UserID != r.UserID || !equalProps(got.Metadata, r.Metadata) {
			t.Fatalf("round trip %+v, want %+v", got, r)
		}
	}
}

func TestReplyFramesErrors(t *testing.T) {
	ok := Reply{Version: "1.0", RequestID: []byte("1"), Status: StatusOK, UserID: "u"}
	mod := func(f func(*Reply)) Reply { r := ok; f(&r); return r }
	cases := []struct {
		name  string
		r     Reply
		cause error
	}{
		{"no version", mod(func(r *Reply) { r.Version = "" }), ErrVersion},
		{"status 201", mod(func(r *Reply) { r.Status = 201 }), ErrStatus},
		{"status 0", mod(func(r *Reply) { r.Status = 0 }), ErrStatus},
		{"user id on 400", mod(func(r *Reply) { r.Status = StatusDenied }), ErrStatus},
		{"metadata on 300", Reply{Version: "1.0", Status: StatusTempFail, Metadata: Properties{{Name: "A", Value: nil}}}, ErrStatus},
		{"user id with NUL", mod(func(r *Reply) { r.UserID = "a\x00b" }), ErrText},
		{"long user id", mod(func(r *Reply) { r.UserID = strings.Repeat("u", MaxUserIDLen+1) }), ErrText},
		{"status text with CR", mod(func(r *Reply) { r.StatusText = "a\rb" }), ErrText},
		{"long request id", mod(func(r *Reply) { r.RequestID = make([]byte, MaxFieldLen+1) }), ErrText},
		{"bad property", mod(func(r *Reply) { r.Metadata = Properties{{Name: "a b"}} }), ErrMetadata},
		{"duplicate property", mod(func(r *Reply) { r.Metadata = Properties{{Name: "A"}, {Name: "a"}} }), ErrMetadata},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.r.Frames()
			if !errors.Is(err, tc.cause) {
				t.Fatalf("Frames: %v, want %v", err, tc.cause)
			}
		})
	}
}

func TestParseReplyErrors(t *testing.T) {
	cases := []struct {
		name   string
		frames [][]byte
		frame  int
		cause  error
	}{
		{"six frames", frames("1.0", "1", "200", "", "u", ""), 6, ErrFrameCount},
		{"eight frames", frames("", "1.0", "1", "200", "", "u", "", ""), 7, ErrFrameCount},
		{"no delimiter", frames("x", "1.0", "1", "200", "", "u", ""), 0, ErrFrameCount},
		{"bad version", frames("", "1.1", "1", "200", "", "u", ""), 1, ErrVersion},
		{"status 250", frames("", "1.0", "1", "250", "", "u", ""), 3, ErrStatus},
		{"status text", frames("", "1.0", "1", "OK", "", "u", ""), 3, ErrStatus},
		{"truncated metadata", [][]byte{nil, []byte("1.0"), []byte("1"), []byte("200"), nil, []byte("u"), {5, 'A'}}, 6, ErrMetadata},
		{"user on 500", frames("", "1.0", "1", "500", "", "u", ""), 5, ErrStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReply(tc.frames)
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Frame != tc.frame || !errors.Is(err, tc.cause) {
				t.Fatalf("ParseReply: %v, want frame %d cause %v", err, tc.frame, tc.cause)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, s := range []Status{StatusOK, StatusTempFail, StatusDenied, StatusInternal} {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		if got, ok := parseStatus([]byte(s.String())); !ok || got != s {
			t.Errorf("parseStatus(%s) = %d %t", s, got, ok)
		}
	}
	for _, s := range []Status{0, 100, 201, 299, 301, 600} {
		if s.Valid() {
			t.Errorf("%d valid", s)
		}
	}
	if st := (Stats{OK: 1, TempFail: 2, Denied: 3, Internal: 4}); st.Count(StatusDenied) != 3 || st.Count(201) != 0 {
		t.Errorf("Stats.Count: %+v", st)
	}
}
