package client_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/client"
)

// A connection the broker cannot address (its routing id was not minted:
// libzmq's handshake race was lost) is told to reconnect, and the library
// does: the worker registers and the client's next request is answered.
func TestReconnectWithoutMintedRoutingID(t *testing.T) {
	e := newEnv(t)
	e.grant("PROXY01$", "serve proxy")
	e.grant("BACKUP01$", "request proxy task.*")
	e.mu.Lock()
	e.unminted["PROXY01$"], e.unminted["BACKUP01$"] = 1, 1
	e.mu.Unlock()
	worker, _ := e.node("PROXY01$", true)
	serve(t, worker, "proxy", echo)
	c, _ := e.node("BACKUP01$", true)

	_, err := c.Request(ctxT(t, 5*time.Second), "proxy", "task.start")
	var refused *client.RefusedError
	if !errors.Is(err, client.ErrConnectionLost) || !errors.As(err, &refused) || refused.Reason != "reconnect" {
		t.Fatalf("first request: %v, want the connection reset on a reconnect refusal", err)
	}
	reply, err := requestUntil(t, c, "proxy", "task.start")
	if err != nil || !slices.Equal(strs(reply), []string{"ok:task.start"}) {
		t.Fatalf("after reconnecting: %q, %v", reply, err)
	}
}
