package zap

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"
)

// Defaults applied by NewServer to zero Config fields.
const (
	// DefaultQueueSize is the default number of requests waiting for a worker.
	DefaultQueueSize = 1024
	// DefaultTimeout is the default per-request deadline, well below
	// libzmq's default handshake interval of 30 s.
	DefaultTimeout = time.Second
	// MinDefaultWorkers is the floor of the default worker count.
	MinDefaultWorkers = 4
)

// reservedProperties are metadata names a reply must not set: libzmq gives
// them their own meaning (User-Id comes from the user id frame, Identity and
// Routing-Id set the peer's routing id, Socket-Type is checked, Peer-Address
// is set by the engine).
var reservedProperties = []string{"User-Id", "Identity", "Routing-Id", "Socket-Type", "Peer-Address"}

// Config tunes a Server. The zero value is usable.
//
// Example (as the config package might spell it in YAML):
//
//	zap:
//	  workers: 8
//	  queue_size: 1024
//	  timeout: 1s
//	  properties: [X-Roles]
type Config struct {
	// Workers is the number of goroutines calling the Authenticator
	// concurrently. Zero means 2*GOMAXPROCS, at least 4; a positive value
	// is used as given.
	Workers int
	// QueueSize bounds the requests waiting for a worker; a request that
	// finds the queue full is answered 300 at once. Zero means 1024.
	QueueSize int
	// Timeout is the per-request deadline, counted from receipt: a request
	// not decided by then is answered 300. Zero means 1 s.
	Timeout time.Duration
	// Properties are authorization property names (e.g. "X-Roles") that
	// every 200 reply sets, to an empty value when the Authenticator gave
	// none, so that a client's own ZMTP metadata can never stand in for
	// them. Readers must look them up with exactly this spelling:
	// zmq_msg_gets is case-sensitive.
	Properties []string
	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns a validated copy of c with defaults filled in; it
// never modifies c.
func (c Config) withDefaults() (Config, error) {
	out := c
	out.Properties = append([]string(nil), c.Properties...)
	if out.Workers < 0 {
		return out, fmt.Errorf("zap: config: workers %d is negative", c.Workers)
	}
	if out.Workers == 0 {
		out.Workers = max(2*runtime.GOMAXPROCS(0), MinDefaultWorkers)
	}
	if out.QueueSize < 0 {
		return out, fmt.Errorf("zap: config: queue size %d is negative", c.QueueSize)
	}
	if out.QueueSize == 0 {
		out.QueueSize = DefaultQueueSize
	}
	if out.Timeout < 0 {
		return out, fmt.Errorf("zap: config: timeout %s is negative", c.Timeout)
	}
	if out.Timeout == 0 {
		out.Timeout = DefaultTimeout
	}
	seen := make(map[string]string, len(out.Properties))
	for _, name := range out.Properties {
		if !ValidPropertyName(name) {
			return out, fmt.Errorf("zap: config: invalid property name %q", name)
		}
		if isReserved(name) {
			return out, fmt.Errorf("zap: config: property name %q is reserved", name)
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return out, fmt.Errorf("zap: config: property name %q duplicates %q", name, prev)
		}
		seen[key] = name
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out, nil
}

func isReserved(name string) bool {
	for _, r := range reservedProperties {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}
