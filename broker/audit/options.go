package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options configures Open. Zero fields take the defaults named in their
// comments; Open never changes the caller's value.
type Options struct {
	// Dir is the log directory; it is created (mode 0750) if missing.
	Dir string
	// RotateBytes starts a new file once the current one reaches this size
	// (default 64 MiB).
	RotateBytes int64
	// RotateAge starts a new file before writing to one this old (default
	// 24h).
	RotateAge time.Duration
	// CheckpointKey signs checkpoints; nil writes none (tail truncation and
	// file removal are then not detectable). See LoadSecretKey.
	CheckpointKey ed25519.PrivateKey
	// CheckpointInterval is how often a checkpoint is written while records
	// arrive (default 1m); one is also written at rotation and at Close.
	CheckpointInterval time.Duration
	// FailOpen keeps callers going when the log cannot be written: their
	// Append errors wrap ErrFailOpen (see MayProceed) and the records are
	// kept in memory, up to MaxPending, until the log is writable again.
	// Off by default: audit unavailable means deny.
	FailOpen bool
	// MaxPending bounds the records waiting for the writer; beyond it
	// Append fails at once with ErrBusy (default 65536).
	MaxPending int
	// RetryInterval is how often a failing log retries on its own, without
	// new records (default 1s).
	RetryInterval time.Duration
	// NoSync skips fdatasync. Only for benchmarks and tests: records are
	// then not durable when Append returns.
	NoSync bool
	// Logger receives the log's own problems, with component=audit
	// (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// writeChunk, in tests, splits every write into pieces of this size,
	// calling afterChunk after each, to simulate a crash mid-write.
	writeChunk int
	afterChunk func()
}

// Defaults.
const (
	defaultRotateBytes        = 64 << 20
	defaultRotateAge          = 24 * time.Hour
	defaultCheckpointInterval = time.Minute
	defaultMaxPending         = 65536
	defaultRetryInterval      = time.Second
)

// withDefaults returns a copy of o with defaults filled in, or an error
// for a setting that makes no sense.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("audit: no log directory")
	}
	if o.RotateBytes == 0 {
		o.RotateBytes = defaultRotateBytes
	}
	if o.RotateAge == 0 {
		o.RotateAge = defaultRotateAge
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = defaultCheckpointInterval
	}
	if o.MaxPending == 0 {
		o.MaxPending = defaultMaxPending
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = defaultRetryInterval
	}
	if o.RotateBytes < 4096 || o.RotateAge < 0 || o.CheckpointInterval < 0 || o.MaxPending < 0 || o.RetryInterval < 0 {
		return o, fmt.Errorf("audit: invalid options: rotate %d bytes / %s, checkpoint every %s, max pending %d, retry every %s",
			o.RotateBytes, o.RotateAge, o.CheckpointInterval, o.MaxPending, o.RetryInterval)
	}
	if o.CheckpointKey != nil && len(o.CheckpointKey) != ed25519.PrivateKeySize {
		return o, errors.New("audit: checkpoint key is not an ed25519 private key")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
