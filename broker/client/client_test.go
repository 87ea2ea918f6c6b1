package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
)

func echo(_ context.Context, command string, payload [][]byte) ([][]byte, error) {
	if command == "task.fail" {
		return nil, errors.New("disk quota exceeded")
	}
	if command == "task.forge" {
		return [][]byte{[]byte("zapgate.error"), []byte("403")}, nil
	}
	return append([][]byte{[]byte("ok:" + command)}, payload...), nil
}

// serve runs c.Serve in the background until the test ends.
func serve(t *testing.T, c *client.Client, service string, h client.Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, service, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, client.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}

// request retries until the worker has registered.
func request(t *testing.T, c *client.Client, service, command string, payload ...[]byte) ([][]byte, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		reply, err := c.Request(ctxT(t, 5*time.Second), service, command, payload...)
		if !errors.Is(err, client.ErrNoWorker) || time.Now().After(deadline) {
			return reply, err
		}
	}
}

func TestRequestServe(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "serve proxy")
	e.grant("BACKUP01$", "request proxy task.*")
	worker, _ := e.node("PROXY01$", true)
	serve(t, worker, "proxy", echo)
	c, _ := e.node("BACKUP01$", true)

	reply, err := request(t, c, "proxy", "task.start", []byte("job-7"))
	if err != nil || !slices.Equal(strs(reply), []string{"ok:task.start", "job-7"}) {
		t.Fatalf("reply %q, %v", reply, err)
	}
	reply, err = c.Request(ctxT(t, 5*time.Second), "proxy", "task.fail")
	if err != nil || !slices.Equal(strs(reply), []string{"error", "disk quota exceeded"}) {
		t.Fatalf("handler error: %q, %v", reply, err)
	}
	// A handler cannot make the client believe the broker refused.
	reply, err = c.Request(ctxT(t, 5*time.Second), "proxy", "task.forge")
	if err != nil || strs(reply)[0] != "error" {
		t.Fatalf("forged refusal: %q, %v", reply, err)
	}

	_, err = c.Request(ctxT(t, 5*time.Second), "proxy", "repo.delete")
	var refused *client.RefusedError
	if !errors.Is(err, client.ErrForbidden) || !errors.As(err, &refused) || refused.Code != 403 || refused.Service != "proxy" {
		t.Fatalf("forbidden: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "client: proxy refused: 403 forbidden") {
		t.Fatalf("message %q", err)
	}
	e.grant("BACKUP01$", "request repository task.*")
	if _, err := c.Request(ctxT(t, 5*time.Second), "repository", "task.start"); !errors.Is(err, client.ErrNoWorker) {
		t.Fatalf("no worker: %v", err)
	}
	if _, err := c.Request(ctxT(t, time.Second), "proxy", "bad*command"); err == nil {
		t.Fatal("invalid command accepted")
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "serve proxy", "serve repository")
	e.grant("BACKUP01$", "request proxy task.*", "request repository task.*")
	w, _ := e.node("PROXY01$", true)
	for range 2 {
		serve(t, w, "proxy", echo)
		serve(t, w, "repository", echo)
	}
	c, _ := e.node("BACKUP01$", true)
	request(t, c, "proxy", "task.warm")
	request(t, c, "repository", "task.warm")
	errs := make(chan error, 40)
	for i := range 40 {
		svc := []string{"proxy", "repository"}[i%2]
		go func() {
			cmd := "task.n" + string(rune('a'+i%26))
			reply, err := c.Request(ctxT(t, 5*time.Second), svc, cmd)
			if err == nil && string(reply[0]) != "ok:"+cmd {
				err = errors.New("reply " + string(reply[0]) + " for " + cmd)
			}
			errs <- err
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRequestCancelledReplyNotMisattributed(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "serve proxy")
	e.grant("BACKUP01$", "request proxy task.*")
	w, _ := e.node("PROXY01$", true)
	serve(t, w, "proxy", func(ctx context.Context, cmd string, p [][]byte) ([][]byte, error) {
		if cmd == "task.slow" {
			time.Sleep(300 * time.Millisecond)
		}
		return [][]byte{[]byte(cmd)}, nil
	})
	c, _ := e.node("BACKUP01$", true)
	request(t, c, "proxy", "task.warm")
	if _, err := c.Request(ctxT(t, 50*time.Millisecond), "proxy", "task.slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v", err)
	}
	reply, err := c.Request(ctxT(t, 5*time.Second), "proxy", "task.next")
	if err != nil || string(reply[0]) != "task.next" {
		t.Fatalf("next request got %q, %v", reply, err)
	}
}

func TestPublishSubscribe(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "publish job.status.*")
	e.grant("BACKUP01$", "subscribe job.**")
	pub, _ := e.node("PROXY01$", true)
	sub, subKey := e.node("BACKUP01$", true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := sub.Subscribe(ctx, "job.**")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctx, "secret.*"); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("forbidden subscribe: %v", err)
	}
	if err := pub.Publish(ctxT(t, 5*time.Second), "job.status.PROXY01", []byte("running")); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events)
	if ev.Topic != "job.status.PROXY01" || ev.Publisher != "PROXY01$" || string(ev.Payload[0]) != "running" || ev.Err != nil {
		t.Fatalf("event %+v", ev)
	}
	if err := pub.Publish(ctxT(t, 5*time.Second), "job.other"); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("forbidden publish: %v", err)
	}
	// Revoked: the subscription ends with the refusal.
	e.revoke(subKey)
	time.Sleep(2 * beat)
	if err := pub.Publish(ctxT(t, 5*time.Second), "job.status.PROXY01", []byte("done")); err != nil {
		t.Fatal(err)
	}
	ev = next(t, events)
	if !errors.Is(ev.Err, client.ErrForbidden) {
		t.Fatalf("final event %+v", ev)
	}
	if _, ok := <-events; ok {
		t.Fatal("channel not closed")
	}
}

func TestSubscriptionCancel(t *testing.T) {
	e := newEnv(t)
	e.grant("BACKUP01$", "subscribe job.**")
	sub, _ := e.node("BACKUP01$", true)
	ctx, cancel := context.WithCancel(context.Background())
	events, err := sub.Subscribe(ctx, "job.**")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}

func next(t *testing.T, ch <-chan client.Event) client.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return client.Event{}
}

func TestHandshakeRefused(t *testing.T) {
	e := newEnv(t)
	c, _ := e.node("INTRUDER$", false)
	_, err := c.Request(ctxT(t, 5*time.Second), "proxy", "task.start")
	if !errors.Is(err, client.ErrHandshake) || !strings.Contains(err.Error(), "400") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestReconnectAfterBrokerRestart(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "serve proxy", "publish job.status.*")
	e.grant("BACKUP01$", "request proxy task.*", "subscribe job.**")
	w, _ := e.node("PROXY01$", true)
	serve(t, w, "proxy", echo)
	c, _ := e.node("BACKUP01$", true)
	events, err := c.Subscribe(context.Background(), "job.**")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := request(t, c, "proxy", "task.before"); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.start()
	// The worker registers again, the client reconnects.
	reply, err := requestUntil(t, c, "proxy", "task.after")
	if err != nil || string(reply[0]) != "ok:task.after" {
		t.Fatalf("after restart: %q, %v", reply, err)
	}
	// The subscription was renewed; the gap is flagged.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := w.Publish(ctxT(t, 5*time.Second), "job.status.p1", []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-events:
			if ev.Err != nil {
				continue // the shutdown notice
			}
			if !ev.Gap {
				t.Fatalf("event after reconnection without Gap: %+v", ev)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event after the restart")
		}
	}
}

// requestUntil retries through connection resets and missing workers.
func requestUntil(t *testing.T, c *client.Client, service, command string) ([][]byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		reply, err := c.Request(ctxT(t, 2*time.Second), service, command)
		if err == nil || time.Now().After(deadline) {
			return reply, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "serve proxy")
	e.grant("BACKUP01$", "request proxy task.*", "subscribe job.**")
	w, _ := e.node("PROXY01$", true)
	release := make(chan struct{})
	serve(t, w, "proxy", func(ctx context.Context, cmd string, p [][]byte) ([][]byte, error) {
		if cmd == "task.hang" {
			<-release
		}
		return nil, nil
	})
	defer close(release)
	c, _ := e.node("BACKUP01$", true)
	request(t, c, "proxy", "task.warm")
	events, err := c.Subscribe(context.Background(), "job.**")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Request(context.Background(), "proxy", "task.hang")
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Fatalf("pending request: %v", err)
	}
	for ev := range events {
		if !errors.Is(ev.Err, client.ErrClosed) {
			t.Fatalf("event %+v", ev)
		}
	}
	if _, err := c.Request(context.Background(), "proxy", "task.x"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	pub, sec, _ := certs.GenerateKeypair()
	other, _, _ := certs.GenerateKeypair()
	for name, cfg := range map[string]client.Config{
		"no endpoint": {ServerKey: pub, PublicKey: pub, SecretKey: sec},
		"no server":   {Endpoint: "tcp://x:1", PublicKey: pub, SecretKey: sec},
		"mismatch":    {Endpoint: "tcp://x:1", ServerKey: pub, PublicKey: other, SecretKey: sec},
		"negative":    {Endpoint: "tcp://x:1", ServerKey: pub, PublicKey: pub, SecretKey: sec, Liveness: -1},
		"no keypair":  {Endpoint: "tcp://x:1", ServerKey: pub},
	} {
		if _, err := client.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "client: config: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
