package config

// validateLimits checks the broker's memory limits and shut-out settings
// (docs/security.md, "Memory bound"); zero takes the relay's default.
func (b *Broker) validateLimits(bad func(path, format string, args ...any)) {
	sizes := []struct {
		key string
		v   int64
	}{
		{"max_message_size", b.MaxMessageSize},
		{"max_message_bytes", b.MaxMessageBytes},
		{"max_peer_bytes", b.MaxPeerBytes},
		{"max_queued_bytes", b.MaxQueuedBytes},
		{"max_connection_backlog", b.MaxConnectionBacklog},
	}
	for _, s := range sizes {
		if s.v < 0 {
			bad("broker."+s.key, "broker.%s must be a positive number of bytes (0: default), not %d", s.key, s.v)
		}
	}
	counts := []struct {
		key string
		v   int
	}{
		{"max_frames", b.MaxFrames},
		{"receive_hwm", b.ReceiveHWM},
		{"offences", b.Offences},
	}
	for _, c := range counts {
		if c.v < 0 {
			bad("broker."+c.key, "broker.%s must be positive (0: default), not %d", c.key, c.v)
		}
	}
	if b.OffenceWindow < 0 {
		bad("broker.offence_window", "broker.offence_window must not be negative")
	}
	if b.ShutOut < 0 {
		bad("broker.shut_out", "broker.shut_out must not be negative")
	}
	if b.MaxMessageBytes > 0 && b.MaxPeerBytes > 0 && b.MaxPeerBytes < b.MaxMessageBytes {
		bad("broker.max_peer_bytes", "broker.max_peer_bytes %d must be at least broker.max_message_bytes %d", b.MaxPeerBytes, b.MaxMessageBytes)
	}
	if b.MaxPeerBytes > 0 && b.MaxQueuedBytes > 0 && b.MaxQueuedBytes < b.MaxPeerBytes {
		bad("broker.max_queued_bytes", "broker.max_queued_bytes %d must be at least broker.max_peer_bytes %d", b.MaxQueuedBytes, b.MaxPeerBytes)
	}
}
