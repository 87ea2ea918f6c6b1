package authn

import (
	"context"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/internal/shutout"
	"github.com/zapgate/zapgate/zap"
)

func TestShutOutKeyRefusedAtHandshake(t *testing.T) {
	e := newEnv(t, nil)
	list := shutout.New(shutout.Config{Offences: 1, Window: time.Minute, Duration: time.Minute})
	e.chain.ShutOut = list
	a := New(e.chain)
	proxy, server := e.keys["PROXY01$"], e.keys["SERVER01$"]
	if res, _ := a.Authenticate(context.Background(), curveReq(proxy, "127.0.0.1")); res.Status != zap.StatusOK {
		t.Fatalf("before the shut-out: %+v", res)
	}
	list.Offend(proxy.String(), "PROXY01$")
	res, err := a.Authenticate(context.Background(), curveReq(proxy, "127.0.0.1"))
	if err != nil || res.Status != zap.StatusDenied || res.StatusText != ReasonShutOut || res.UserID != "" {
		t.Fatalf("shut-out key: %+v %v", res, err)
	}
	if res, _ := a.Authenticate(context.Background(), curveReq(server, "127.0.0.1")); res.Status != zap.StatusOK {
		t.Fatalf("another key: %+v", res)
	}
	var found bool
	for _, r := range e.records(t) {
		if r.Reason == ReasonShutOut {
			found = r.Action == audit.ActionConnect && r.Outcome == audit.OutcomeFailure && r.User == "PROXY01$" &&
				r.Key == proxy.Fingerprint()
		}
	}
	if !found {
		t.Errorf("no shut-out record with principal and key: %+v", e.records(t))
	}
}
