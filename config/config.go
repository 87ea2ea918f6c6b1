// Package config loads zapgate's YAML configuration file strictly: unknown
// keys, duplicate keys and invalid values are errors that name the file and
// line, and every error in the file is reported in one pass where possible.
//
// Example:
//
//	# zapgate.yaml
//	keys:
//	  registry: /etc/zapgate/keys          # directory of public cert files
//	  server_secret: /etc/zapgate/server.key_secret
//	zap:
//	  workers: 8
//	  queue: 1024
//	  timeout: 1s
//	policy:
//	  file: /etc/zapgate/policy.yaml
//	  require_signature: true
//	  trusted_keys: [/etc/zapgate/policy-signers/secteam.pub]
//	log:
//	  level: info
//	  format: text
package config

import (
	"time"
)

// Config is the whole zapgate configuration file.
type Config struct {
	// Keys locates CURVE key material.
	Keys Keys `yaml:"keys"`
	// ZAP tunes the ZAP server.
	ZAP ZAP `yaml:"zap"`
	// Log configures the process log.
	Log Log `yaml:"log"`
	// Broker configures the broker's listening socket.
	Broker Broker `yaml:"broker"`
	// Policy locates the role-based policy file and its signature rules.
	Policy Policy `yaml:"policy"`
	// Audit configures the audit log and its forwarding.
	Audit Audit `yaml:"audit"`
	// Directory chooses and configures the identity source.
	Directory Directory `yaml:"directory"`
	// Admin configures the health and metrics listener.
	Admin Admin `yaml:"admin"`
	// Enroll configures identity-verified key enrollment (off by default).
	Enroll Enroll `yaml:"enroll"`
}

// Policy locates the role-based policy file and its signature rules.
type Policy struct {
	// File is the policy file (default /etc/zapgate/policy.yaml).
	File string `yaml:"file"`
	// RequireSignature refuses to load a policy file without a valid
	// detached ed25519 signature (FILE.sig) from one of TrustedKeys.
	RequireSignature bool `yaml:"require_signature"`
	// TrustedKeys are files holding the ed25519 public keys whose
	// signatures are accepted.
	TrustedKeys []string `yaml:"trusted_keys"`
}

// Keys locates CURVE key material.
type Keys struct {
	// Registry is the directory of public certificate files that bind keys
	// to principals (default /etc/zapgate/keys).
	Registry string `yaml:"registry"`
	// ServerSecret is the broker's own secret certificate file (zcert
	// format, mode 0600). Never inline a key in this file.
	ServerSecret string `yaml:"server_secret"`
	// Source is where keys are bound to principals: "registry" (the
	// directory of cert files, the default) or "directory" (key-in-directory
	// mode: the key is stored on the node's LDAP/AD account; needs
	// directory.type ldap).
	Source string `yaml:"source"`
}

// ZAP tunes the ZAP server.
type ZAP struct {
	// Workers is the number of concurrent authentications (0: automatic).
	Workers int `yaml:"workers"`
	// Queue is the number of waiting requests before answering 300
	// (0: default 1024).
	Queue int `yaml:"queue"`
	// Timeout is the per-request deadline (default 1s); past it the peer
	// gets 300 and retries.
	Timeout time.Duration `yaml:"timeout"`
}

// Log configures the process log.
type Log struct {
	// Level is debug, info, warn or error (default info).
	Level string `yaml:"level"`
	// Format is text or json (default text).
	Format string `yaml:"format"`
}

// Broker configures the broker's listening socket and the Majordomo relay.
// Zero values take the relay's defaults.
type Broker struct {
	// Listen is the frontend endpoint, e.g. tcp://0.0.0.0:5555.
	Listen string `yaml:"listen"`
	// Heartbeat is the Majordomo heartbeat interval (default 2.5s).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Liveness is how many silent heartbeats expire a worker (default 3).
	Liveness int `yaml:"liveness"`
	// NoWorkerWait bounds how long a request waits for a worker before an
	// explicit "no worker" refusal.
	NoWorkerWait time.Duration `yaml:"no_worker_wait"`
	// MaxQueue limits the requests waiting per service.
	MaxQueue int `yaml:"max_queue"`
	// MaxMessageSize bounds one inbound frame in bytes (ZMQ_MAXMSGSIZE;
	// default 1 MiB); libzmq closes a connection that sends a larger one.
	MaxMessageSize int64 `yaml:"max_message_size"`
	// MaxFrames bounds the frames of one inbound message (default 64).
	MaxFrames int `yaml:"max_frames"`
	// MaxMessageBytes bounds the bytes of one inbound message, all frames
	// together (default 2 MiB). A message past this or MaxFrames is
	// refused (400 message-too-large), audited and counted as an offence.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxPeerBytes bounds the message bytes the broker holds for one peer
	// (default 16 MiB).
	MaxPeerBytes int64 `yaml:"max_peer_bytes"`
	// MaxQueuedBytes bounds the message bytes the broker holds for all
	// peers together (default 256 MiB).
	MaxQueuedBytes int64 `yaml:"max_queued_bytes"`
	// ReceiveHWM is the per-connection receive high-water mark in
	// messages (ZMQ_RCVHWM, default 32).
	ReceiveHWM int `yaml:"receive_hwm"`
	// MaxConnectionBacklog bounds the bytes libzmq may read from one
	// connection while the broker reads no message from it; past it the
	// connection is closed and audited (broker.drop connection-backlog).
	// Default and least allowed: (receive_hwm + 1) × (max_message_bytes +
	// 64 × (max_frames + 1)) + 64 KiB, 66 MiB with the defaults.
	MaxConnectionBacklog int64 `yaml:"max_connection_backlog"`
	// Offences is how many offences (oversized messages) within
	// OffenceWindow shut a key out (default 3).
	Offences int `yaml:"offences"`
	// OffenceWindow is how long an offence counts (default 10m).
	OffenceWindow time.Duration `yaml:"offence_window"`
	// ShutOut is how long a key stays shut out: its messages are refused
	// and its handshakes get ZAP 400 (default 10m).
	ShutOut time.Duration `yaml:"shut_out"`
}

// Defaults returns the configuration used when a key is absent.
func Defaults() Config {
	return Config{
		Keys:      Keys{Registry: "/etc/zapgate/keys", ServerSecret: "/etc/zapgate/server.key_secret", Source: "registry"},
		ZAP:       ZAP{Queue: 1024, Timeout: time.Second},
		Log:       Log{Level: "info", Format: "text"},
		Broker:    Broker{Listen: "tcp://0.0.0.0:5555"},
		Policy:    Policy{File: "/etc/zapgate/policy.yaml"},
		Audit:     auditDefaults(),
		Directory: directoryDefaults(),
		Admin:     Admin{Listen: "127.0.0.1:9750"},
		Enroll:    enrollDefaults(),
	}
}
