package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "zapgate_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	s := New(reg, slog.New(slog.DiscardHandler))
	var healthy atomic.Bool
	healthy.Store(true)
	s.AddCheck("zap", func() error { return nil })
	s.AddCheck("policy", func() error {
		if healthy.Load() {
			return nil
		}
		return errors.New("policy.yaml:3: unknown key")
	})
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("readyz %d %s", code, body)
	}
	healthy.Store(false)
	code, body := get("/readyz")
	if code != 503 {
		t.Errorf("readyz with a failing check: %d", code)
	}
	var r struct {
		Ready  bool
		Checks []CheckResult
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Ready || len(r.Checks) != 2 || r.Checks[0].Name != "policy" || r.Checks[0].OK || !strings.Contains(r.Checks[0].Error, "unknown key") {
		t.Errorf("readyz body %+v", r)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "zapgate_test_total 3") {
		t.Errorf("metrics %d %s", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("unknown path %d", code)
	}
}
