package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Audit configures the tamper-evident audit log and its forwarding.
type Audit struct {
	// Dir holds the audit log files (default /var/lib/zapgate/audit).
	Dir string `yaml:"dir"`
	// RotateBytes starts a new file when the current one reaches this size
	// (default 64 MiB).
	RotateBytes int64 `yaml:"rotate_bytes"`
	// RotateAge starts a new file when the current one is this old
	// (default 24h).
	RotateAge time.Duration `yaml:"rotate_age"`
	// CheckpointKey is an ed25519 secret key file (mode 0600) used to sign
	// periodic checkpoints; empty disables signed checkpoints.
	CheckpointKey string `yaml:"checkpoint_key"`
	// CheckpointInterval is how often a signed checkpoint is written
	// (default 1m).
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// FailOpen keeps granting when the log cannot be written. Off by
	// default: audit unavailable means deny.
	FailOpen bool `yaml:"fail_open"`
}

// auditDefaults returns the audit section's defaults.
func auditDefaults() Audit {
	return Audit{
		Dir:                "/var/lib/zapgate/audit",
		RotateBytes:        64 << 20,
		RotateAge:          24 * time.Hour,
		CheckpointInterval: time.Minute,
	}
}

// validate checks the audit section.
func (a *Audit) validate(bad func(path, format string, args ...any), _ *yaml.Node) {
	if a.Dir == "" {
		bad("audit.dir", "audit.dir must name a directory")
	}
	if a.RotateBytes < 4096 {
		bad("audit.rotate_bytes", "audit.rotate_bytes must be at least 4096, not %d", a.RotateBytes)
	}
	if a.RotateAge <= 0 {
		bad("audit.rotate_age", "audit.rotate_age must be positive, not %s", a.RotateAge)
	}
	if a.CheckpointInterval <= 0 {
		bad("audit.checkpoint_interval", "audit.checkpoint_interval must be positive, not %s", a.CheckpointInterval)
	}
}
