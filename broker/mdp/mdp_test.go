package mdp

import (
	"bytes"
	"errors"
	"testing"
)

func fr(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

func TestParseValid(t *testing.T) {
	m, err := Parse(fr("", "MDPC01", "proxy", "task.start", "job-7"))
	if err != nil || m.Header != ClientHeader || m.Service != "proxy" || len(m.Body) != 2 || string(m.Body[0]) != "task.start" {
		t.Fatalf("client request: %+v %v", m, err)
	}
	m, err = Parse(fr("", "MDPW01", "\x01", "proxy"))
	if err != nil || m.Command != Ready || m.Service != "proxy" {
		t.Fatalf("ready: %+v %v", m, err)
	}
	m, err = Parse(fr("", "MDPW01", "\x03", "client-1", "", "ok"))
	if err != nil || m.Command != Reply || string(m.Client) != "client-1" || len(m.Body) != 1 {
		t.Fatalf("reply: %+v %v", m, err)
	}
	for _, c := range []string{"\x04", "\x05"} {
		if _, err := Parse(fr("", "MDPW01", c)); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
	}
	// A request may have an empty body (MMI, for one).
	if m, err := Parse(fr("", "MDPC01", "mmi.service")); err != nil || len(m.Body) != 0 {
		t.Fatalf("empty body: %+v %v", m, err)
	}
}

func TestParseMalformed(t *testing.T) {
	long := string(bytes.Repeat([]byte("s"), 256))
	cases := map[string][][]byte{
		"empty":             nil,
		"no delimiter":      fr("MDPC01", "svc"),
		"non-empty delim":   fr("x", "MDPC01", "svc"),
		"unknown header":    fr("", "MDPC02", "svc"),
		"client no service": fr("", "MDPC01"),
		"empty service":     fr("", "MDPC01", ""),
		"long service":      fr("", "MDPC01", long),
		"control char":      fr("", "MDPC01", "a\nb"),
		"bad utf8":          fr("", "MDPC01", "\xff"),
		"worker no command": fr("", "MDPW01"),
		"two-byte command":  fr("", "MDPW01", "\x01\x01", "svc"),
		"unknown command":   fr("", "MDPW01", "\x09"),
		"worker REQUEST":    fr("", "MDPW01", "\x02", "c", "", "x"),
		"ready no service":  fr("", "MDPW01", "\x01"),
		"ready extra":       fr("", "MDPW01", "\x01", "svc", "x"),
		"reply no delim":    fr("", "MDPW01", "\x03", "c"),
		"reply bad delim":   fr("", "MDPW01", "\x03", "c", "x", "body"),
		"reply no client":   fr("", "MDPW01", "\x03", "", "", "body"),
		"heartbeat extra":   fr("", "MDPW01", "\x04", "x"),
		"disconnect extra":  fr("", "MDPW01", "\x05", "x"),
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(f)
			if err == nil || !errors.Is(err, ErrMalformed) || m != nil {
				t.Fatalf("got %+v, %v", m, err)
			}
		})
	}
}

func TestBuildersRoundTrip(t *testing.T) {
	m, err := Parse(WorkerReady("repo"))
	if err != nil || m.Command != Ready || m.Service != "repo" {
		t.Fatal(m, err)
	}
	m, err = Parse(WorkerReply([]byte("cid"), []byte("ok")))
	if err != nil || string(m.Client) != "cid" || string(m.Body[0]) != "ok" {
		t.Fatal(m, err)
	}
	m, err = Parse(ClientRequest("repo", []byte("repo.list")))
	if err != nil || m.Service != "repo" {
		t.Fatal(m, err)
	}
	req := WorkerRequest([]byte("cid"), []byte("task.start"))
	if string(req[1]) != WorkerHeader || req[2][0] != byte(Request) || string(req[3]) != "cid" || len(req[4]) != 0 {
		t.Fatalf("request frames %q", req)
	}
}

// FuzzParse feeds frames split from one buffer: each frame is prefixed by
// a one-byte length.
func FuzzParse(f *testing.F) {
	join := func(frames [][]byte) []byte {
		var out []byte
		for _, x := range frames {
			out = append(out, byte(len(x)))
			out = append(out, x...)
		}
		return out
	}
	f.Add(join(fr("", "MDPC01", "proxy", "task.start")))
	f.Add(join(fr("", "MDPW01", "\x01", "proxy")))
	f.Add(join(fr("", "MDPW01", "\x03", "c", "", "ok")))
	f.Add(join(fr("", "MDPW01", "\x04")))
	f.Fuzz(func(t *testing.T, data []byte) {
		var frames [][]byte
		for len(data) > 0 {
			n := int(data[0])
			data = data[1:]
			n = min(n, len(data))
			frames = append(frames, data[:n])
			data = data[n:]
		}
		m, err := Parse(frames)
		if (m == nil) == (err == nil) {
			t.Fatalf("message %v with error %v", m, err)
		}
		if err != nil {
			return
		}
		if m.Header == ClientHeader && (m.Service == "" || len(m.Service) > MaxServiceLen) {
			t.Fatalf("bad service accepted: %q", m.Service)
		}
		if m.Header == WorkerHeader && m.Command == Reply && len(m.Client) == 0 {
			t.Fatal("reply without client accepted")
		}
	})
}
