package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseBrokerMemoryLimits(t *testing.T) {
	doc := `broker:
  listen: tcp://127.0.0.1:5555
  max_message_size: 1048576
  max_frames: 32
  max_message_bytes: 2097152
  max_peer_bytes: 8388608
  max_queued_bytes: 134217728
  receive_hwm: 16
  max_connection_backlog: 40000000
  offences: 5
  offence_window: 2m
  shut_out: 30m
`
	cfg, err := Parse("z.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Broker
	if b.MaxMessageSize != 1<<20 || b.MaxFrames != 32 || b.MaxMessageBytes != 2<<20 || b.MaxPeerBytes != 8<<20 ||
		b.MaxQueuedBytes != 128<<20 || b.ReceiveHWM != 16 || b.Offences != 5 || b.OffenceWindow != 2*time.Minute ||
		b.ShutOut != 30*time.Minute || b.MaxConnectionBacklog != 40_000_000 {
		t.Errorf("broker = %+v", b)
	}
}

func TestParseBrokerMemoryLimitErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"negative frames", "broker:\n  max_frames: -1\n", `z.yaml:2: broker.max_frames must be positive`},
		{"negative bytes", "broker:\n  max_message_bytes: -5\n", `z.yaml:2: broker.max_message_bytes must be a positive number of bytes`},
		{"negative backlog", "broker:\n  max_connection_backlog: -1\n", `z.yaml:2: broker.max_connection_backlog must be a positive number of bytes`},
		{"negative hwm", "broker:\n  receive_hwm: -1\n", `z.yaml:2: broker.receive_hwm`},
		{"negative shut-out", "broker:\n  shut_out: -1m\n", `z.yaml:2: broker.shut_out must not be negative`},
		{"negative window", "broker:\n  offence_window: -1s\n", `z.yaml:2: broker.offence_window`},
		{"peer below message", "broker:\n  max_message_bytes: 4096\n  max_peer_bytes: 1024\n", `z.yaml:3: broker.max_peer_bytes 1024 must be at least`},
		{"queued below peer", "broker:\n  max_peer_bytes: 4096\n  max_queued_bytes: 1024\n", `z.yaml:3: broker.max_queued_bytes 1024 must be at least`},
		{"typo", "broker:\n  max_frame: 3\n", `z.yaml:2: unknown key "max_frame"`},
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
