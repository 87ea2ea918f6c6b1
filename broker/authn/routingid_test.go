package authn

import (
	"context"
	"testing"

	"github.com/zapgate/zapgate/internal/routingid"
	"github.com/zapgate/zapgate/zap"
)

// Every accepted connection gets a routing id of its own, minted for its
// key and principal; a refusal carries none.
func TestAuthenticateMintsRoutingID(t *testing.T) {
	e := newEnv(t, nil)
	m, err := routingid.New()
	if err != nil {
		t.Fatal(err)
	}
	c := e.chain
	c.RoutingIDs = m
	a := New(c)
	key := e.keys["PROXY01$"]
	seen := map[string]bool{}
	for range 3 {
		res, err := a.Authenticate(context.Background(), curveReq(key, "127.0.0.1"))
		if err != nil || res.Status != zap.StatusOK {
			t.Fatalf("%+v %v", res, err)
		}
		if seen[res.RoutingID] || !m.Verify(res.RoutingID, key.String(), "PROXY01$") {
			t.Fatalf("routing id %q reused or not minted for the connection", res.RoutingID)
		}
		seen[res.RoutingID] = true
	}
	res, err := a.Authenticate(context.Background(), curveReq(key, "10.9.9.9"))
	if err != nil || res.Status != zap.StatusDenied || res.RoutingID != "" {
		t.Fatalf("refusal %+v %v", res, err)
	}
}
