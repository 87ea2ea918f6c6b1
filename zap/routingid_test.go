package zap

import (
	"context"
	"testing"
	"time"
)

// A 200 that sets a routing id is held until RoutingIDHold after the
// request, so libzmq cannot read it before it parsed the client's own
// metadata (which would overwrite the routing id); other replies are not.
func TestServerHoldsRoutingIDReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  Result
		hold bool
	}{
		{"routing id", Result{Status: StatusOK, UserID: "a", RoutingID: "z1"}, true},
		{"no routing id", Result{Status: StatusOK, UserID: "a"}, false},
		{"refusal", Result{Status: StatusDenied, RoutingID: "z1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zctx := newContext(t)
			auth := AuthenticatorFunc(func(context.Context, *Request) (Result, error) { return tc.res, nil })
			startServer(t, zctx, auth, Config{})
			d := zapDealer(t, zctx)
			start := time.Now()
			rep := ask(t, d, curveRequest(1))
			elapsed := time.Since(start)
			if tc.hold && elapsed < RoutingIDHold {
				t.Fatalf("answered after %s, before the %s hold", elapsed, RoutingIDHold)
			}
			if id, ok := rep.Metadata.Get(PropertyIdentity); tc.res.RoutingID != "" && tc.res.Status == StatusOK && (!ok || string(id) != tc.res.RoutingID) {
				t.Fatalf("metadata %+v", rep.Metadata)
			}
		})
	}
}
