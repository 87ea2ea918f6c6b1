//go:build integration

package integration

import (
	"context"
	"errors"
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
	out := startServe(t, e)
	requester := relayProxy(t, e, "alice", "before the outage", out)

	s.stop()
	expectStaleRelay(t, e, requester, "alice", out)
	bob := nodeClient(t, e, "bob")
	expectUnanswered(t, bob, "unknown principal")

	s.start(t)
	// The broker's 5 s handshake timeout disconnects a node held by ZAP 300;
	// it then reconnects and is asked again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := bob.Request(rctx, "proxy", "task.status")
		rcancel()
		if errors.Is(err, client.ErrHandshake) {
			break // the directory answered: bob has no role, ZAP 400
		}
		if time.Now().After(deadline) {
			t.Fatalf("after slapd returned, bob still gets %v\n%s", err, out)
		}
	}

	expectOutageAudit(t, e, "alice")
}
