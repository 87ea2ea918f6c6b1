package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/internal/shutout"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultHeartbeat is MDP's usual heartbeat interval (zguide's
	// Majordomo workers use the same).
	DefaultHeartbeat = 2500 * time.Millisecond
	// DefaultLiveness is how many heartbeat intervals a worker may stay
	// silent before it expires.
	DefaultLiveness = 3
	// DefaultRecheck is how often registered workers are re-checked in
	// the background, and how long a cached delivery decision is trusted
	// without asking the Authorizer again. (A worker is also authorized
	// at each dispatch, whatever its last re-check.)
	DefaultRecheck = 500 * time.Millisecond
	// DefaultNoWorkerWait bounds how long a request waits for a worker;
	// it is below the 2.5 s timeout of zguide's Majordomo clients so they
	// get the explicit refusal.
	DefaultNoWorkerWait = 2 * time.Second
	// DefaultReplyTimeout bounds how long a worker may hold a request
	// without a heartbeat or a reply.
	DefaultReplyTimeout = time.Minute
	// DefaultCheckTimeout bounds one Authorize plus Record.
	DefaultCheckTimeout = 2 * time.Second
	// DefaultDrainTimeout bounds a graceful shutdown.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultHandshakeTimeout bounds a CURVE handshake on the broker
	// socket. After a ZAP 300 libzmq 4.3.4 waits for a new HELLO on the
	// same connection, so this is also how soon a node refused with 300
	// (directory unavailable, overload) is disconnected and reconnects.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultMaxQueue is the per-service limit of waiting requests.
	DefaultMaxQueue = 1000
	// DefaultMaxPending is the per-client limit of unanswered requests.
	DefaultMaxPending = 100
	// DefaultMaxInflight is the per-peer limit of messages being
	// authorized.
	DefaultMaxInflight = 64
	// DefaultMaxJobs is the broker-wide limit of messages being
	// authorized.
	DefaultMaxJobs = 10000
	// DefaultMaxSubscriptions is the per-peer limit of subscriptions.
	DefaultMaxSubscriptions = 64
	// DefaultSendHWM is the per-peer send high-water mark in messages.
	DefaultSendHWM = 1000
	// DefaultMaxMessageSize bounds one inbound frame (ZMQ_MAXMSGSIZE).
	DefaultMaxMessageSize = 1 << 20
	// DefaultParallelism is the number of goroutines that authorize and
	// record concurrently.
	DefaultParallelism = 16
	// DefaultMaxFrames bounds the frames of one inbound message (routing
	// id not counted); MDP messages have a handful.
	DefaultMaxFrames = 64
	// DefaultMaxMessageBytes bounds the bytes of one inbound message, all
	// frames together.
	DefaultMaxMessageBytes = 2 << 20
	// DefaultMaxPeerBytes bounds the message bytes the broker holds for
	// one peer: its requests being authorized or waiting for a worker,
	// its replies and publications being authorized.
	DefaultMaxPeerBytes = 16 << 20
	// DefaultMaxQueuedBytes bounds the message bytes the broker holds for
	// all peers together.
	DefaultMaxQueuedBytes = 256 << 20
	// DefaultReceiveHWM is the per-connection receive high-water mark in
	// messages (ZMQ_RCVHWM; libzmq's own default is 1000).
	DefaultReceiveHWM = 32
)

// Framing allowance of MinConnectionBacklog: what CURVE and ZMTP add to
// a message on the wire (per frame a ZMTP header of up to 9 bytes, the
// 8-byte MESSAGE name, an 8-byte nonce, a 16-byte MAC and a flags byte,
// rounded up), and libzmq's 8 KiB read buffer with room to spare.
const (
	wireFrameOverhead = 64
	wireReadSlack     = 64 << 10
)

// MinConnectionBacklog is the least Config.MaxConnectionBacklog can be,
// and its default: the bytes a sender within the limits can make libzmq
// hold for one connection while the broker reads nothing from it —
// receiveHWM complete messages and one being assembled, each at most
// maxMessageBytes in at most maxFrames frames, with their CURVE and ZMTP
// framing.
func MinConnectionBacklog(receiveHWM, maxFrames int, maxMessageBytes int64) int64 {
	perMessage := maxMessageBytes + int64(maxFrames+1)*wireFrameOverhead
	return int64(receiveHWM+1)*perMessage + wireReadSlack
}

// Config configures a Broker. Zero fields take the defaults above; New
// does not modify the caller's Config.
//
// Example (as `zapgate serve` might spell it in YAML):
//
//	broker:
//	  listen: tcp://0.0.0.0:5555
//	  heartbeat: 2.5s
//	  liveness: 3
//	  no_worker_wait: 2s
//	  max_queue: 1000
type Config struct {
	// Endpoint is where the ROUTER binds, e.g. "tcp://0.0.0.0:5555";
	// "tcp://127.0.0.1:*" picks a free port (see Broker.Endpoint).
	Endpoint string
	// ServerSecret is the broker's CURVE secret key.
	ServerSecret certs.SecretKey
	// ZAPDomain is the socket's ZAP domain; "" means "zapgate".
	ZAPDomain string
	// RoutingIDs verifies the routing id of every message: the ZAP
	// handler mints one per connection (zap.Result.RoutingID) and the
	// broker drops, and audits, a message whose routing id was not minted
	// for its connection's key and User-Id (see docs/security.md, "Routing
	// ids"). Required; *routingid.Minter implements it.
	RoutingIDs RoutingIDs
	// ZAPDone, if not nil, is closed when the ZAP server stops (pass
	// zap.Server.Done()); Run then closes the socket at once and returns
	// an error, because libzmq accepts every CURVE client when no ZAP
	// handler answers.
	ZAPDone <-chan struct{}
	// Heartbeat is the MDP heartbeat interval.
	Heartbeat time.Duration
	// Liveness is the number of silent heartbeat intervals after which an
	// idle worker expires.
	Liveness int
	// Recheck is how often registered workers are re-checked in the
	// background, and how long a subscriber's permission for a topic is
	// trusted before the Authorizer is asked again. A worker is also
	// authorized each time a request is dispatched to it.
	Recheck time.Duration
	// NoWorkerWait bounds how long a request waits for a worker before
	// it is refused (404 no-worker or 503 busy).
	NoWorkerWait time.Duration
	// ReplyTimeout bounds how long a worker may hold a request without
	// sending anything; it then expires and the client gets 503
	// worker-lost.
	ReplyTimeout time.Duration
	// CheckTimeout bounds one Authorize plus Record; past it the action
	// is refused.
	CheckTimeout time.Duration
	// DrainTimeout bounds a graceful shutdown: how long Run waits for
	// authorizations in flight and busy workers.
	DrainTimeout time.Duration
	// HandshakeTimeout bounds a CURVE handshake (ZMQ_HANDSHAKE_IVL; libzmq
	// defaults to 30s). A node answered ZAP 300 is disconnected after it
	// and reconnects.
	HandshakeTimeout time.Duration
	// MaxQueue limits the requests waiting for a worker, per service.
	MaxQueue int
	// MaxPending limits a client's unanswered requests.
	MaxPending int
	// MaxInflight limits a peer's messages being authorized at once.
	MaxInflight int
	// MaxJobs limits the messages being authorized at once, broker-wide.
	MaxJobs int
	// MaxSubscriptions limits a peer's subscriptions.
	MaxSubscriptions int
	// SendHWM is the send high-water mark per peer, in messages; a
	// subscriber that reaches it is dropped from fan-out.
	SendHWM int
	// MaxMessageSize bounds one inbound frame in bytes; libzmq closes a
	// connection that sends a larger one.
	MaxMessageSize int64
	// Parallelism is the number of goroutines that call the Authorizer
	// and the Recorder. A peer's messages are always handled in order by
	// the same goroutine.
	Parallelism int
	// MaxFrames limits the frames of one inbound message. A longer
	// message is read to its end without being kept, refused (400
	// message-too-large), audited and counted as an offence.
	MaxFrames int
	// MaxMessageBytes limits the bytes of one inbound message, all frames
	// together; past it the message is treated like one with too many
	// frames.
	MaxMessageBytes int64
	// MaxPeerBytes limits the message bytes the broker holds for one peer
	// (requests being authorized or queued, replies and publications
	// being authorized); past it the peer's messages are refused (503
	// queue-full) and audited.
	MaxPeerBytes int64
	// MaxQueuedBytes limits the message bytes the broker holds for all
	// peers together, refused like MaxPeerBytes.
	MaxQueuedBytes int64
	// ReceiveHWM is the per-connection receive high-water mark in
	// messages (ZMQ_RCVHWM): libzmq stops reading a connection that has
	// this many complete messages waiting for the broker.
	ReceiveHWM int
	// MaxConnectionBacklog limits the bytes libzmq may read from one
	// connection while the broker reads no message from it; past it the
	// connection is cut (its socket shut down), audited (broker.drop
	// connection-backlog) and, when its key is known, counted as an
	// offence. It bounds what a message libzmq is still assembling can
	// cost, which no per-message limit can (libzmq shows a message only
	// once complete). Zero means MinConnectionBacklog, also the least
	// allowed: below it a sender within the limits could be cut.
	MaxConnectionBacklog int64
	// Offenders counts limit violations per key and shuts repeated
	// offenders out; pass the same one to the ZAP handler so their
	// handshakes are refused. Nil: a list with shutout's defaults that
	// only the broker consults.
	Offenders Offenders
	// UnauthenticatedLogs bounds the transport's log lines about
	// connections of one source address (docs/security.md, "Audit budget
	// of unauthenticated peers"): the first PerSource connections per
	// Interval are logged in full (accepted, handshake failed, closed),
	// the rest are counted in one summary line per source and interval.
	// Zero fields: 5 connections per 10 s.
	UnauthenticatedLogs LogBudget
}

// LogBudget is how many connections of one source address are logged in
// full per interval.
type LogBudget struct {
	// PerSource is the connections of one source logged in full per
	// interval (default 5).
	PerSource int
	// Interval is the summary period (default 10s).
	Interval time.Duration
	// MaxSources bounds the addresses with a summary line of their own
	// per interval (default 256); further ones share one.
	MaxSources int
	// MaxLines bounds the connections logged in full per interval over
	// all addresses (default 200).
	MaxLines int
}

// withDefaults returns a validated copy of c with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	out := c
	if out.Endpoint == "" {
		return out, errors.New("broker: config: no endpoint")
	}
	if out.ServerSecret.IsZero() {
		return out, errors.New("broker: config: no server secret key")
	}
	if out.RoutingIDs == nil {
		return out, errors.New("broker: config: no routing id verifier")
	}
	if out.ZAPDomain == "" {
		out.ZAPDomain = "zapgate"
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"heartbeat", &out.Heartbeat, DefaultHeartbeat},
		{"recheck", &out.Recheck, DefaultRecheck},
		{"no_worker_wait", &out.NoWorkerWait, DefaultNoWorkerWait},
		{"reply_timeout", &out.ReplyTimeout, DefaultReplyTimeout},
		{"check_timeout", &out.CheckTimeout, DefaultCheckTimeout},
		{"drain_timeout", &out.DrainTimeout, DefaultDrainTimeout},
		{"handshake_timeout", &out.HandshakeTimeout, DefaultHandshakeTimeout},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return out, fmt.Errorf("broker: config: %s %s is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"liveness", &out.Liveness, DefaultLiveness},
		{"max_queue", &out.MaxQueue, DefaultMaxQueue},
		{"max_pending", &out.MaxPending, DefaultMaxPending},
		{"max_inflight", &out.MaxInflight, DefaultMaxInflight},
		{"max_jobs", &out.MaxJobs, DefaultMaxJobs},
		{"max_subscriptions", &out.MaxSubscriptions, DefaultMaxSubscriptions},
		{"send_hwm", &out.SendHWM, DefaultSendHWM},
		{"parallelism", &out.Parallelism, DefaultParallelism},
		{"max_frames", &out.MaxFrames, DefaultMaxFrames},
		{"receive_hwm", &out.ReceiveHWM, DefaultReceiveHWM},
	}
	for _, n := range ints {
		if *n.v < 0 {
			return out, fmt.Errorf("broker: config: %s %d is negative", n.name, *n.v)
		}
		if *n.v == 0 {
			*n.v = n.def
		}
	}
	sizes := []struct {
		name string
		v    *int64
		def  int64
	}{
		{"max_message_size", &out.MaxMessageSize, DefaultMaxMessageSize},
		{"max_message_bytes", &out.MaxMessageBytes, DefaultMaxMessageBytes},
		{"max_peer_bytes", &out.MaxPeerBytes, DefaultMaxPeerBytes},
		{"max_queued_bytes", &out.MaxQueuedBytes, DefaultMaxQueuedBytes},
	}
	for _, n := range sizes {
		if *n.v < 0 {
			return out, fmt.Errorf("broker: config: %s %d is negative", n.name, *n.v)
		}
		if *n.v == 0 {
			*n.v = n.def
		}
	}
	if out.MaxPeerBytes < out.MaxMessageBytes || out.MaxQueuedBytes < out.MaxPeerBytes {
		return out, fmt.Errorf("broker: config: want max_message_bytes %d <= max_peer_bytes %d <= max_queued_bytes %d",
			out.MaxMessageBytes, out.MaxPeerBytes, out.MaxQueuedBytes)
	}
	least := MinConnectionBacklog(out.ReceiveHWM, out.MaxFrames, out.MaxMessageBytes)
	switch {
	case out.MaxConnectionBacklog < 0:
		return out, fmt.Errorf("broker: config: max_connection_backlog %d is negative", out.MaxConnectionBacklog)
	case out.MaxConnectionBacklog == 0:
		out.MaxConnectionBacklog = least
	case out.MaxConnectionBacklog < least:
		return out, fmt.Errorf("broker: config: max_connection_backlog %d is below %d, what (receive_hwm %d + 1) messages of max_message_bytes %d in max_frames %d frames take on the wire: senders within the limits would be cut",
			out.MaxConnectionBacklog, least, out.ReceiveHWM, out.MaxMessageBytes, out.MaxFrames)
	}
	if out.Offenders == nil {
		out.Offenders = shutout.New(shutout.Config{})
	}
	return out, nil
}

// expiry is how long an idle worker may stay silent.
func (c *Config) expiry() time.Duration { return c.Heartbeat * time.Duration(c.Liveness) }

// tick is the loop's timer granularity.
func (c *Config) tick() time.Duration {
	t := min(c.Heartbeat, c.Recheck, c.NoWorkerWait) / 4
	return max(min(t, 250*time.Millisecond), 5*time.Millisecond)
}
