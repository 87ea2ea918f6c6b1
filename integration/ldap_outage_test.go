//go:build integration

package integration

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/client"
)

// TestServeDirectoryOutage stops slapd under a running broker (security
// invariant 4): a principal seen before keeps relaying on its cached
// identity within the stale grace, and a new connection of it is accepted
// with the record marked stale; a principal the cache has never seen gets
// ZAP 300 (the node retries, nothing is granted); when slapd returns, the
// directory answers again.
func TestServeDirectoryOutage(t *testing.T) {
	s := startSlapd(t)
	e, _ := ldapServeEnv(t, s, "    ttl: 1s\n    stale_grace: 1m\n    query_timeout: 2s\n")
	cmd, out := e.start(t)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	worker, requester := nodeClient(t, e, "alice"), nodeClient(t, e, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker.Serve(ctx, "proxy", func(_ context.Context, cmd string, _ [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("done " + cmd)}, nil
	})
	if _, err := retryRequest(requester, "proxy", "task.start"); err != nil {
		t.Fatalf("before the outage: %v\n%s", err, out)
	}

	s.stop()
	time.Sleep(1200 * time.Millisecond) // past the 1s TTL: answers now come from the stale grace
	if _, err := retryRequest(requester, "proxy", "task.status"); err != nil {
		t.Fatalf("known principal during the outage: %v", err)
	}
	again := nodeClient(t, e, "alice")
	if _, err := retryRequest(again, "proxy", "task.status"); err != nil {
		t.Fatalf("known principal reconnecting during the outage: %v", err)
	}

	bob := nodeClient(t, e, "bob")
	rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := bob.Request(rctx, "proxy", "task.status")
	rcancel()
	if err == nil || errors.Is(err, client.ErrHandshake) {
		t.Fatalf("unknown principal during the outage got %v; want no answer (ZAP 300, retrying), not a grant or a 400", err)
	}

	s.start(t)
	// The broker's 5 s handshake timeout disconnects a node held by ZAP 300;
	// it then reconnects and is asked again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = bob.Request(rctx, "proxy", "task.status")
		rcancel()
		if errors.Is(err, client.ErrHandshake) {
			break // the directory answered: bob has no role, ZAP 400
		}
		if time.Now().After(deadline) {
			t.Fatalf("after slapd returned, bob still gets %v\n%s", err, out)
		}
	}

	audit := mustRun(t, "audit", "export", "--action", "authn.connect", "--format", "jsonl", filepath.Join(e.dir, "audit"))
	var stale, unavailable bool
	for _, line := range strings.Split(audit, "\n") {
		if strings.Contains(line, `"user.name":"alice"`) && strings.Contains(line, `"zapgate.stale":true`) && strings.Contains(line, `"event.outcome":"success"`) {
			stale = true
		}
		if strings.Contains(line, `"event.reason":"directory-unavailable"`) && strings.Contains(line, `"event.outcome":"failure"`) {
			unavailable = true
		}
	}
	if !stale || !unavailable {
		t.Errorf("audit lacks a stale grant (%v) or a directory-unavailable refusal (%v):\n%s", stale, unavailable, audit)
	}
}
