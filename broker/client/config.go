package client

import (
	"errors"
	"log/slog"
	"time"

	"github.com/zapgate/zapgate/certs"
)

// Defaults for zero Config fields.
const (
	// DefaultHeartbeat matches the broker's MDP heartbeat.
	DefaultHeartbeat = 2500 * time.Millisecond
	// DefaultLiveness is the number of silent heartbeat intervals after
	// which the broker is considered gone.
	DefaultLiveness = 3
	// DefaultReconnectMin is the first reconnection delay.
	DefaultReconnectMin = 100 * time.Millisecond
	// DefaultReconnectMax caps the exponential reconnection delay.
	DefaultReconnectMax = 10 * time.Second
	// DefaultEventBuffer is the capacity of a subscription's channel.
	DefaultEventBuffer = 64
)

// Config configures a Client. New does not modify it.
type Config struct {
	// Endpoint is the broker's endpoint, e.g. "tcp://broker:5555".
	Endpoint string
	// ServerKey is the broker's CURVE public key.
	ServerKey certs.PublicKey
	// PublicKey and SecretKey are this node's CURVE keypair, enrolled in
	// the broker's key registry.
	PublicKey certs.PublicKey
	// SecretKey is the secret half of PublicKey.
	SecretKey certs.SecretKey
	// Heartbeat is the MDP worker heartbeat and the ZMTP heartbeat of the
	// client connection.
	Heartbeat time.Duration
	// Liveness is how many heartbeat intervals without a word from the
	// broker mean the connection is dead.
	Liveness int
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// reconnections.
	ReconnectMin time.Duration
	// ReconnectMax caps the backoff.
	ReconnectMax time.Duration
	// EventBuffer is the capacity of each subscription channel; events
	// that find it full are dropped and counted in Event.Missed.
	EventBuffer int
	// Logger receives the library's logs (component=client); nil
	// discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	out := c
	switch {
	case out.Endpoint == "":
		return out, errors.New("client: config: no endpoint")
	case out.ServerKey.IsZero():
		return out, errors.New("client: config: no server key")
	case out.PublicKey.IsZero() || out.SecretKey.IsZero():
		return out, errors.New("client: config: no keypair")
	case out.Heartbeat < 0 || out.Liveness < 0 || out.ReconnectMin < 0 || out.ReconnectMax < 0 || out.EventBuffer < 0:
		return out, errors.New("client: config: negative duration or count")
	}
	pub, err := out.SecretKey.Public()
	if err != nil || pub != out.PublicKey {
		return out, errors.New("client: config: secret key does not match the public key")
	}
	if out.Heartbeat == 0 {
		out.Heartbeat = DefaultHeartbeat
	}
	if out.Liveness == 0 {
		out.Liveness = DefaultLiveness
	}
	if out.ReconnectMin == 0 {
		out.ReconnectMin = DefaultReconnectMin
	}
	if out.ReconnectMax == 0 {
		out.ReconnectMax = DefaultReconnectMax
	}
	out.ReconnectMax = max(out.ReconnectMax, out.ReconnectMin)
	if out.EventBuffer == 0 {
		out.EventBuffer = DefaultEventBuffer
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out, nil
}

// expiry is how long the broker may stay silent.
func (c *Config) expiry() time.Duration { return c.Heartbeat * time.Duration(c.Liveness) }

// backoff doubles d within the configured bounds.
func (c *Config) backoff(d time.Duration) time.Duration {
	if d <= 0 {
		return c.ReconnectMin
	}
	return min(2*d, c.ReconnectMax)
}
