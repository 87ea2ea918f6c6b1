package config

import (
	"strings"
	"testing"
	"time"
)

func TestFloodDefaultsAndValues(t *testing.T) {
	cfg, err := Parse("z.yaml", []byte("audit:\n  dir: /srv/audit\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Audit; a.ReserveBytes != 256<<20 || a.Unauthenticated != (AuditUnauthenticated{PerSource: 5, Interval: 10 * time.Second, MaxSources: 256, MaxRecords: 200}) {
		t.Errorf("audit = %+v", a)
	}
	if r := cfg.Enroll.RateLimit; r != (EnrollRateLimit{Rate: 0.5, Burst: 10, MaxSources: 4096}) {
		t.Errorf("enroll.rate_limit = %+v", r)
	}
	cfg, err = Parse("z.yaml", []byte("audit:\n  reserve_bytes: 0\n  unauthenticated: {per_source: 1, interval: 1m, max_sources: 8, max_records: 9}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Audit; a.ReserveBytes != 0 || a.Unauthenticated != (AuditUnauthenticated{PerSource: 1, Interval: time.Minute, MaxSources: 8, MaxRecords: 9}) {
		t.Errorf("audit = %+v", a)
	}
}

func TestFloodErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"negative reserve", "audit:\n  reserve_bytes: -1\n", "z.yaml:2: audit.reserve_bytes must be 0 (off) or a number of bytes"},
		{"per source", "audit:\n  unauthenticated:\n    per_source: 0\n", "z.yaml:3: audit.unauthenticated.per_source must be at least 1"},
		{"interval", "audit:\n  unauthenticated:\n    interval: 10ms\n", "z.yaml:3: audit.unauthenticated.interval must be at least 1s"},
		{"sources", "audit:\n  unauthenticated:\n    max_sources: -3\n", "z.yaml:3: audit.unauthenticated.max_sources must be at least 1"},
		{"unknown", "audit:\n  unauthenticated:\n    per_sorce: 3\n", `z.yaml:3: unknown key "per_sorce"`},
		{"rate", enrollDoc + "  rate_limit: {rate: 0}\n", "enroll.rate_limit.rate must be positive"},
		{"burst", enrollDoc + "  rate_limit:\n    burst: 0\n", "enroll.rate_limit.burst must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("z.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
