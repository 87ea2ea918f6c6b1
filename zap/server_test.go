package zap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pebbe/zmq4"
)

// These tests talk to the Server directly over inproc, as libzmq does, with
// synthetic requests.

// zapDealer connects a DEALER to the ZAP endpoint of zctx.
func zapDealer(t testing.TB, zctx *zmq4.Context) *zmq4.Socket {
	t.Helper()
	d := newSocket(t, zctx, zmq4.DEALER)
	must(t, d.SetRcvtimeo(5*time.Second))
	must(t, d.Connect(Endpoint))
	return d
}

// ask sends raw request frames (without envelope) and parses the reply.
func ask(t testing.TB, d *zmq4.Socket, frames [][]byte) *Reply {
	t.Helper()
	if _, err := d.SendMessage("", frames); err != nil {
		t.Fatalf("send: %v", err)
	}
	msg, err := d.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("receive reply: %v", err)
	}
	rep, err := ParseReply(msg)
	if err != nil {
		t.Fatalf("parse reply %q: %v", msg[1:], err)
	}
	return rep
}

func curveRequest(key byte) [][]byte {
	req := Request{RequestID: []byte("1"), Domain: "test", Address: "10.0.0.1", Mechanism: MechanismCurve,
		Credentials: [][]byte{bytes.Repeat([]byte{key}, 32)}}
	frames, err := req.Frames()
	if err != nil {
		panic(err)
	}
	return frames
}

func TestServerReplies(t *testing.T) {
	type want struct {
		status Status
		text   string
		user   string
		meta   Properties
	}
	p := func(kv ...string) Properties {
		out := Properties{}
		for i := 0; i < len(kv); i += 2 {
			out = append(out, Property{Name: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	secret := "ldap://dc01: bind password rejected"
	cases := []struct {
		name string
		res  Result
		err  error
		want want
	}{
		{"accept with properties", Result{Status: StatusOK, UserID: "alice", Properties: map[string]string{"X-Roles": "proxy", "X-B": "b", "X-A": "a"}},
			nil, want{StatusOK, "", "alice", p("X-Roles", "proxy", "X-Tenant", "", "X-A", "a", "X-B", "b")}},
		{"accept without properties", Result{Status: StatusOK, UserID: "bob"},
			nil, want{StatusOK, "", "bob", p("X-Roles", "", "X-Tenant", "")}},
		{"configured name in other case", Result{Status: StatusOK, UserID: "bob", Properties: map[string]string{"x-roles": "r"}},
			nil, want{StatusOK, "", "bob", p("X-Roles", "r", "X-Tenant", "")}},
		{"accept with routing id", Result{Status: StatusOK, UserID: "bob", RoutingID: "z\x00\xff1"},
			nil, want{StatusOK, "", "bob", p("X-Roles", "", "X-Tenant", "", "Identity", "z\x00\xff1")}},
		{"deny drops routing id", Result{Status: StatusDenied, RoutingID: "z1"},
			nil, want{StatusDenied, "access denied", "", nil}},
		{"routing id with a leading zero", Result{Status: StatusOK, UserID: "a", RoutingID: "\x00abc"}, nil, want{StatusInternal, "internal error", "", nil}},
		{"routing id too long", Result{Status: StatusOK, UserID: "a", RoutingID: strings.Repeat("r", 256)}, nil, want{StatusInternal, "internal error", "", nil}},
		{"deny with text", Result{Status: StatusDenied, StatusText: "unknown key"},
			nil, want{StatusDenied, "unknown key", "", nil}},
		{"deny drops user and properties", Result{Status: StatusDenied, UserID: "eve", Properties: map[string]string{"X-Roles": "admin"}},
			nil, want{StatusDenied, "access denied", "", nil}},
		{"deny with control characters in text", Result{Status: StatusDenied, StatusText: "bad\nline"},
			nil, want{StatusDenied, "access denied", "", nil}},
		{"temporary refusal", Result{Status: StatusTempFail},
			nil, want{StatusTempFail, "temporary failure", "", nil}},
		{"internal refusal", Result{Status: StatusInternal, StatusText: "x"},
			nil, want{StatusInternal, "x", "", nil}},
		{"error", Result{}, errors.New(secret), want{StatusInternal, "internal error", "", nil}},
		{"temporary error", Result{}, fmt.Errorf("directory: %s: %w", secret, ErrTemporary), want{StatusTempFail, "temporary failure", "", nil}},
		{"deadline error", Result{}, fmt.Errorf("%s: %w", secret, context.DeadlineExceeded), want{StatusTempFail, "temporary failure", "", nil}},
		{"invalid status", Result{Status: 201, UserID: "alice"}, nil, want{StatusInternal, "internal error", "", nil}},
		{"zero status", Result{}, nil, want{StatusInternal, "internal error", "", nil}},
		{"accept without user id", Result{Status: StatusOK}, nil, want{StatusInternal, "internal error", "", nil}},
		{"user id with NUL", Result{Status: StatusOK, UserID: "ali\x00ce"}, nil, want{StatusInternal, "internal error", "", nil}},
		{"invalid property name", Result{Status: StatusOK, UserID: "a", Properties: map[string]string{"X Roles": "r"}}, nil, want{StatusInternal, "internal error", "", nil}},
		{"reserved property", Result{Status: StatusOK, UserID: "a", Properties: map[string]string{"identity": "x"}}, nil, want{StatusInternal, "internal error", "", nil}},
		{"user id as property", Result{Status: StatusOK, UserID: "a", Properties: map[string]string{"User-Id": "root"}}, nil, want{StatusInternal, "internal error", "", nil}},
		{"duplicate property", Result{Status: StatusOK, UserID: "a", Properties: map[string]string{"X-A": "1", "x-a": "2"}}, nil, want{StatusInternal, "internal error", "", nil}},
		{"NUL in property value", Result{Status: StatusOK, UserID: "a", Properties: map[string]string{"X-Roles": "a\x00admin"}}, nil, want{StatusInternal, "internal error", "", nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			zctx := newContext(t)
			var logs syncBuffer
			auth := AuthenticatorFunc(func(ctx context.Context, req *Request) (Result, error) {
				return tc.res, tc.err
			})
			s := startServer(t, zctx, auth, Config{Properties: []string{"X-Roles", "X-Tenant"}, Logger: testLogger(t, &logs)})
			rep := ask(t, zapDealer(t, zctx), curveRequest(1))
			got := want{rep.Status, rep.StatusText, rep.UserID, rep.Metadata}
			if got.status != tc.want.status || got.text != tc.want.text || got.user != tc.want.user || !equalProps(got.meta, tc.want.meta) {
				t.Fatalf("reply %+v, want %+v", got, tc.want)
			}
			if string(rep.RequestID) != "1" {
				t.Errorf("request id %q, want 1", rep.RequestID)
			}
			if tc.err != nil {
				if !strings.Contains(logs.String(), "bind password rejected") {
					t.Errorf("internal cause not logged:\n%s", logs.String())
				}
				if s.Stats().Errors != 1 {
					t.Errorf("stats %+v, want Errors 1", s.Stats())
				}
			}
		})
	}
}

func equalProps(a, b Properties) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func TestServerPanicIs500(t *testing.T) {
	zctx := newContext(t)
	s := startServer(t, zctx, AuthenticatorFunc(func(context.Context, *Request) (Result, error) {
		panic("boom")
	}), Config{})
	d := zapDealer(t, zctx)
	for range 3 {
		if rep := ask(t, d, curveRequest(1)); rep.Status != StatusInternal {
			t.Fatalf("status %d, want 500", rep.Status)
		}
	}
	if st := s.Stats(); st.Errors != 3 || st.Internal != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerPassesRequest(t *testing.T) {
	zctx := newContext(t)
	got := make(chan *Request, 3)
	startServer(t, zctx, AuthenticatorFunc(func(_ context.Context, req *Request) (Result, error) {
		got <- req
		return Result{Status: StatusDenied}, nil
	}), Config{})
	d := zapDealer(t, zctx)
	reqs := []Request{
		{RequestID: []byte("1"), Domain: "d", Address: "::1", Identity: []byte{0, 1}, Mechanism: MechanismNull},
		{RequestID: []byte("7"), Domain: "", Address: "192.0.2.1", Mechanism: MechanismPlain, Credentials: [][]byte{[]byte("user"), []byte("pw")}},
		{RequestID: []byte("1"), Domain: "d", Address: "192.0.2.2", Mechanism: MechanismCurve, Credentials: [][]byte{bytes.Repeat([]byte{9}, 32)}},
	}
	for _, want := range reqs {
		frames, err := want.Frames()
		must(t, err)
		if rep := ask(t, d, frames); rep.Status != StatusDenied || !bytes.Equal(rep.RequestID, want.RequestID) {
			t.Fatalf("reply %+v", rep)
		}
		r := <-got
		if r.Domain != want.Domain || r.Address != want.Address || r.Mechanism != want.Mechanism ||
			!bytes.Equal(r.Identity, want.Identity) || len(r.Credentials) != len(want.Credentials) {
			t.Fatalf("authenticator got %+v, want %+v", r, want)
		}
	}
}

func TestServerMalformedRequests(t *testing.T) {
	zctx := newContext(t)
	var calls atomic.Int32
	var logs syncBuffer
	s := startServer(t, zctx, AuthenticatorFunc(func(context.Context, *Request) (Result, error) {
		calls.Add(1)
		return Result{Status: StatusOK, UserID: "u"}, nil
	}), Config{Logger: testLogger(t, &logs)})
	d := zapDealer(t, zctx)
	key := bytes.Repeat([]byte{1}, 32)
	bad := [][][]byte{
		{[]byte("1.0")},
		{[]byte("2.0"), []byte("1"), nil, nil, nil, []byte("NULL")},
		{[]byte("1.0"), []byte("1"), nil, nil, nil, []byte("GSSAPI"), []byte("tok")},
		{[]byte("1.0"), []byte("1"), nil, nil, nil, []byte("CURVE"), key[:31]},
		{[]byte("1.0"), []byte("1"), nil, nil, nil, []byte("CURVE"), key, key},
		{[]byte("1.0"), []byte("1"), []byte("\xff"), nil, nil, []byte("NULL")},
	}
	for i, frames := range bad {
		rep := ask(t, d, frames)
		if rep.Status != StatusInternal || rep.UserID != "" || len(rep.Metadata) != 0 {
			t.Fatalf("case %d: reply %+v, want bare 500", i, rep)
		}
		if i > 0 && string(rep.RequestID) != "1" {
			t.Errorf("case %d: request id %q not echoed", i, rep.RequestID)
		}
	}
	// No empty delimiter: nothing to address, dropped and counted.
	_, err := d.SendMessage("not-a-delimiter", "1.0")
	must(t, err)
	eventually(t, 5*time.Second, "unaddressable request counted", func() bool {
		return s.Stats().Malformed == uint64(len(bad))+1
	})
	if calls.Load() != 0 {
		t.Fatalf("authenticator called %d times for malformed requests", calls.Load())
	}
	if rep := ask(t, d, curveRequest(1)); rep.Status != StatusOK {
		t.Fatalf("server broken after malformed input: %+v", rep)
	}
	if !strings.Contains(logs.String(), "malformed zap request") {
		t.Errorf("malformed requests not logged:\n%s", logs.String())
	}
}

func TestServerSelfTestDomainSkipsAuthenticator(t *testing.T) {
	zctx := newContext(t)
	var calls atomic.Int32
	startServer(t, zctx, AuthenticatorFunc(func(context.Context, *Request) (Result, error) {
		calls.Add(1)
		return Result{Status: StatusOK, UserID: "u"}, nil
	}), Config{})
	req := Request{RequestID: []byte("1"), Domain: SelfTestDomain, Mechanism: MechanismCurve, Credentials: [][]byte{make([]byte, 32)}}
	frames, err := req.Frames()
	must(t, err)
	if rep := ask(t, zapDealer(t, zctx), frames); rep.Status != StatusDenied {
		t.Fatalf("reply %+v, want 400", rep)
	}
	if calls.Load() != 0 {
		t.Fatalf("authenticator called %d times (self-test at Start included)", calls.Load())
	}
}

// TestServerQueuedPastDeadline checks that a request that waited in the
// queue past its deadline is answered 300 and never reaches the
// Authenticator.
func TestServerQueuedPastDeadline(t *testing.T) {
	zctx := newContext(t)
	release := make(chan struct{})
	var calls atomic.Int32
	s := startServer(t, zctx, AuthenticatorFunc(func(ctx context.Context, req *Request) (Result, error) {
		calls.Add(1)
		<-release
		return Result{Status: StatusOK, UserID: "u"}, nil
	}), Config{Workers: 1, Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { close(release) })
	d1, d2 := zapDealer(t, zctx), zapDealer(t, zctx)
	_, err := d1.SendMessage("", curveRequest(1))
	must(t, err)
	eventually(t, 5*time.Second, "first request in the authenticator", func() bool { return calls.Load() == 1 })
	rep := ask(t, d2, curveRequest(2))
	if rep.Status != StatusTempFail || rep.StatusText != "timeout" {
		t.Fatalf("queued request: %+v, want 300 timeout", rep)
	}
	msg, err := d1.RecvMessageBytes(0)
	must(t, err)
	if r, err := ParseReply(msg); err != nil || r.Status != StatusTempFail {
		t.Fatalf("blocked request: %+v %v, want 300", r, err)
	}
	release <- struct{}{}
	eventually(t, 5*time.Second, "late decision discarded", func() bool { return s.Stats().Late >= 1 })
	if calls.Load() != 1 {
		t.Fatalf("authenticator called %d times, want 1", calls.Load())
	}
}
