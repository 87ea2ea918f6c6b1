package config

import (
	"path/filepath"
	"testing"
)

// TestExampleConfigLoads keeps examples/zapgate.yaml true: it must load
// strictly, and its values must be the defaults it claims to show.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "examples", "zapgate.yaml"))
	if err != nil {
		t.Fatalf("examples/zapgate.yaml: %v", err)
	}
	if cfg.Directory.Type != "static" || cfg.Enroll.Enabled || cfg.Admin.Listen != "127.0.0.1:9750" {
		t.Errorf("example config: directory %q, enroll %v, admin %q", cfg.Directory.Type, cfg.Enroll.Enabled, cfg.Admin.Listen)
	}
	if c := cfg.Directory.Cache; c.TTL.String() != "5m0s" || c.StaleGrace.String() != "15m0s" || c.OutageBackoff.String() != "5s" {
		t.Errorf("example cache settings: %+v", c)
	}
}
