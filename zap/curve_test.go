package zap

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pebbe/zmq4"
)

// These tests run real CURVE handshakes over tcp://127.0.0.1 against
// libzmq, with the Server as the context's ZAP handler.

func TestCurveKnownKeyAccepted(t *testing.T) {
	zctx := newContext(t)
	serverKey, alice := newKeypair(t), newKeypair(t)
	s := startServer(t, zctx, mapAuth(map[[32]byte]Result{
		alice.raw(): {Status: StatusOK, UserID: "alice", Properties: map[string]string{"X-Roles": "backup-server,proxy", "X-Team": "storage"}},
	}), Config{Properties: []string{"X-Roles", "X-Tenant"}})
	server, ep, _ := curveServer(t, zctx, serverKey, false)
	client := curveClient(t, zctx, serverKey, alice, ep)

	msg, meta, err := roundTrip(t, server, client, "User-Id", "X-Roles", "X-Tenant", "X-Team")
	if err != nil {
		t.Fatalf("server receive: %v", err)
	}
	if len(msg) != 2 || string(msg[1]) != "ping" {
		t.Fatalf("server got %q, want [routing id, ping]", msg)
	}
	want := map[string]string{"User-Id": "alice", "X-Roles": "backup-server,proxy", "X-Tenant": "", "X-Team": "storage"}
	for k, v := range want {
		if got, ok := meta[k]; !ok || got != v {
			t.Errorf("metadata %s = %q (present %t), want %q", k, got, ok, v)
		}
	}
	if st := s.Stats(); st.OK != 1 {
		t.Errorf("stats: %+v, want OK 1", st)
	}
}

func TestCurveUnknownKeyRefused(t *testing.T) {
	zctx := newContext(t)
	serverKey, alice, mallory := newKeypair(t), newKeypair(t), newKeypair(t)
	s := startServer(t, zctx, mapAuth(map[[32]byte]Result{
		alice.raw(): {Status: StatusOK, UserID: "alice"},
	}), Config{})
	server, ep, mon := curveServer(t, zctx, serverKey, true)
	must(t, server.SetRcvtimeo(500*time.Millisecond))
	client := curveClient(t, zctx, serverKey, mallory, ep)
	if _, err := client.SendMessage("ping"); err != nil {
		t.Fatalf("client send: %v", err)
	}
	if !mon.waitEvent(t, zmq4.EVENT_HANDSHAKE_FAILED_AUTH, 400, 5*time.Second) {
		t.Fatal("no HANDSHAKE_FAILED_AUTH 400 on the server socket")
	}
	if msg, err := server.RecvMessageBytes(0); err == nil {
		t.Fatalf("server received %q from an unknown key", msg)
	}
	if st := s.Stats(); st.Denied < 2 { // self-test + mallory
		t.Errorf("stats: %+v, want Denied ≥ 2", st)
	}
}

// TestCurveOutOfOrder holds the first request inside the Authenticator
// until the second client's handshake completed and its message arrived.
func TestCurveOutOfOrder(t *testing.T) {
	zctx := newContext(t)
	serverKey, first, second := newKeypair(t), newKeypair(t), newKeypair(t)
	entered, release := make(chan struct{}), make(chan struct{})
	auth := AuthenticatorFunc(func(ctx context.Context, req *Request) (Result, error) {
		key, _ := req.CurveKey()
		switch key {
		case first.raw():
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
			return Result{Status: StatusOK, UserID: "first"}, nil
		case second.raw():
			return Result{Status: StatusOK, UserID: "second"}, nil
		}
		return Result{Status: StatusDenied}, nil
	})
	startServer(t, zctx, auth, Config{Timeout: 10 * time.Second})
	server, ep, _ := curveServer(t, zctx, serverKey, false)

	c1 := curveClient(t, zctx, serverKey, first, ep)
	if _, err := c1.SendMessage("one"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("first request never reached the Authenticator")
	}
	c2 := curveClient(t, zctx, serverKey, second, ep)
	if _, err := c2.SendMessage("two"); err != nil {
		t.Fatal(err)
	}
	msg, meta, err := server.RecvMessageBytesWithMetadata(0, "User-Id")
	if err != nil {
		t.Fatalf("second client not accepted while the first is pending: %v", err)
	}
	if string(msg[1]) != "two" || meta["User-Id"] != "second" {
		t.Fatalf("got %q from %q, want two from second", msg[1], meta["User-Id"])
	}
	close(release)
	msg, meta, err = server.RecvMessageBytesWithMetadata(0, "User-Id")
	if err != nil {
		t.Fatalf("first client not accepted after release: %v", err)
	}
	if string(msg[1]) != "one" || meta["User-Id"] != "first" {
		t.Fatalf("got %q from %q, want one from first", msg[1], meta["User-Id"])
	}
}

// TestCurveOverload fills one worker and a queue of one, then checks that
// the next handshake is answered 300 at once and not accepted.
func TestCurveOverload(t *testing.T) {
	zctx := newContext(t)
	serverKey := newKeypair(t)
	keys := []keypair{newKeypair(t), newKeypair(t), newKeypair(t)}
	release := make(chan struct{})
	var entered atomic.Int32
	auth := AuthenticatorFunc(func(ctx context.Context, req *Request) (Result, error) {
		if req.Domain != "test" {
			return Result{Status: StatusDenied}, nil
		}
		entered.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
		return Result{Status: StatusOK, UserID: "u"}, nil
	})
	s := startServer(t, zctx, auth, Config{Workers: 1, QueueSize: 1, Timeout: 20 * time.Second})
	server, ep, mon := curveServer(t, zctx, serverKey, true)
	must(t, server.SetRcvtimeo(300*time.Millisecond))
	base := s.Stats().Requests

	c1 := curveClient(t, zctx, serverKey, keys[0], ep)
	_, _ = c1.SendMessage("1")
	eventually(t, 5*time.Second, "worker busy", func() bool { return entered.Load() == 1 })
	c2 := curveClient(t, zctx, serverKey, keys[1], ep)
	_, _ = c2.SendMessage("2")
	eventually(t, 5*time.Second, "second request queued", func() bool { return s.Stats().Requests == base+2 })
	c3 := curveClient(t, zctx, serverKey, keys[2], ep)
	_, _ = c3.SendMessage("3")

	if !mon.waitEvent(t, zmq4.EVENT_HANDSHAKE_FAILED_AUTH, 300, 5*time.Second) {
		t.Fatal("no HANDSHAKE_FAILED_AUTH 300 for the overloaded handshake")
	}
	if st := s.Stats(); st.Overloads < 1 || st.TempFail < 1 {
		t.Fatalf("stats: %+v, want Overloads ≥ 1 and TempFail ≥ 1", st)
	}
	if msg, err := server.RecvMessageBytes(0); err == nil {
		t.Fatalf("server received %q while every handshake should be pending or refused", msg)
	}
	close(release)
	got := map[string]bool{}
	must(t, server.SetRcvtimeo(5*time.Second))
	for len(got) < 2 {
		msg, err := server.RecvMessageBytes(0)
		if err != nil {
			t.Fatalf("after release, got %v, then: %v", got, err)
		}
		got[string(msg[1])] = true
	}
	if !got["1"] || !got["2"] {
		t.Fatalf("after release got %v, want messages 1 and 2", got)
	}
}

// TestCurveTimeout checks that an Authenticator that never answers (and
// ignores its context) yields 300 at the deadline, while other keys are
// still accepted promptly.
func TestCurveTimeout(t *testing.T) {
	zctx := newContext(t)
	serverKey, slow, fast := newKeypair(t), newKeypair(t), newKeypair(t)
	unblock := make(chan struct{})
	auth := AuthenticatorFunc(func(ctx context.Context, req *Request) (Result, error) {
		key, _ := req.CurveKey()
		if key == slow.raw() {
			<-unblock // ignores ctx on purpose
			return Result{Status: StatusOK, UserID: "slow"}, nil
		}
		return Result{Status: StatusOK, UserID: "fast"}, nil
	})
	const timeout = 300 * time.Millisecond
	s := startServer(t, zctx, auth, Config{Workers: 4, Timeout: timeout})
	t.Cleanup(func() { close(unblock) }) // runs before the server's Close
	server, ep, mon := curveServer(t, zctx, serverKey, true)

	cs := curveClient(t, zctx, serverKey, slow, ep)
	must(t, cs.SetReconnectIvl(time.Minute)) // one attempt is enough
	_, _ = cs.SendMessage("slow")
	eventually(t, 5*time.Second, "slow request pending", func() bool { return s.Stats().Requests >= 2 })

	start := time.Now()
	cf := curveClient(t, zctx, serverKey, fast, ep)
	msg, meta, err := roundTrip(t, server, cf, "User-Id")
	if err != nil {
		t.Fatalf("fast client blocked by the slow one: %v", err)
	}
	if elapsed := time.Since(start); elapsed > timeout {
		t.Errorf("fast handshake took %s, longer than the slow key's timeout", elapsed)
	}
	if meta["User-Id"] != "fast" || string(msg[1]) != "ping" {
		t.Fatalf("got %q from %q", msg[1], meta["User-Id"])
	}
	if !mon.waitEvent(t, zmq4.EVENT_HANDSHAKE_FAILED_AUTH, 300, 5*time.Second) {
		t.Fatal("no HANDSHAKE_FAILED_AUTH 300 for the slow key")
	}
	if st := s.Stats(); st.Timeouts != 1 {
		t.Fatalf("stats: %+v, want Timeouts 1", st)
	}
}
