package broker

import (
	"sync/atomic"

	"github.com/zapgate/zapgate/broker/audit/flood"
	"github.com/zapgate/zapgate/broker/mdp"
)

// Stats are a Broker's counters since New, for metrics and tests; every
// field counts up except Connections, a current value.
type Stats struct {
	// Received counts messages read from the socket.
	Received uint64
	// Requests counts client requests authorized and queued.
	Requests uint64
	// Replies counts worker replies relayed to clients.
	Replies uint64
	// Refused counts refusals sent, by code (400, 403, 404, 500, 502, 503).
	Refused map[int]uint64
	// Published counts events authorized for fan-out.
	Published uint64
	// Delivered counts events sent to subscribers.
	Delivered uint64
	// EventsDropped counts deliveries not made (subscriber gone or slow,
	// authorization failed).
	EventsDropped uint64
	// SlowSubscribers counts subscribers dropped from fan-out.
	SlowSubscribers uint64
	// WorkersRefused counts READYs refused.
	WorkersRefused uint64
	// WorkersRevoked counts workers disconnected by a failed re-check.
	WorkersRevoked uint64
	// WorkersExpired counts workers that stopped sending heartbeats.
	WorkersExpired uint64
	// SpoofedReplies counts REPLYs from the wrong worker or with a forged
	// broker frame.
	SpoofedReplies uint64
	// Unauthenticated counts messages dropped for an empty User-Id.
	Unauthenticated uint64
	// Malformed counts messages that were not valid MDP.
	Malformed uint64
	// Overloaded counts messages refused by the in-flight limits.
	Overloaded uint64
	// Undeliverable counts replies that could not be sent (client gone
	// or not reading).
	Undeliverable uint64
	// AuditSkipped counts drop events only logged because of the audit
	// backlog limit.
	AuditSkipped uint64
	// TooLarge counts messages over Config.MaxFrames or
	// Config.MaxMessageBytes.
	TooLarge uint64
	// ShutOut counts keys shut out after repeated offences.
	ShutOut uint64
	// ShutOutRefused counts messages refused because their key was shut
	// out.
	ShutOutRefused uint64
	// ForeignRoutingIDs counts messages dropped because their routing id
	// was not minted for their connection.
	ForeignRoutingIDs uint64
	// DispatchRefused counts requests taken back from a worker whose
	// authorization failed at dispatch, before their content was sent.
	DispatchRefused uint64
	// ConnectionsCut counts connections cut for their backlog or because
	// their key was shut out.
	ConnectionsCut uint64
	// Connections is the number of connections accepted and not yet
	// closed that the broker watches for max_connection_backlog (Linux
	// TCP connections; 0 elsewhere).
	Connections uint64
	// TransportLinesSuppressed counts transport log lines about
	// connections past their source's log budget, counted in a summary
	// line instead (Config.UnauthenticatedLogs).
	TransportLinesSuppressed uint64
	// TransportSummaries counts those summary lines.
	TransportSummaries uint64
}

type counters struct {
	received, requests, replies, published, delivered, eventsDropped atomic.Uint64
	slowSubscribers, workersRefused, workersRevoked, workersExpired  atomic.Uint64
	spoofedReplies, unauthenticated, malformed, overloaded           atomic.Uint64
	undeliverable, auditSkipped                                      atomic.Uint64
	tooLarge, shutOut, shutOutRefused, connCut                       atomic.Uint64
	foreignRoutingIDs, dispatchRefused                               atomic.Uint64
	r400, r403, r404, r500, r502, r503                               atomic.Uint64
}

func (c *counters) refused(code int) {
	switch code {
	case mdp.CodeMalformed:
		c.r400.Add(1)
	case mdp.CodeForbidden:
		c.r403.Add(1)
	case mdp.CodeNoWorker:
		c.r404.Add(1)
	case mdp.CodeInternal:
		c.r500.Add(1)
	case mdp.CodeBadReply:
		c.r502.Add(1)
	case mdp.CodeUnavailable:
		c.r503.Add(1)
	}
}

// Stats returns a snapshot of the counters; safe from any goroutine.
func (b *Broker) Stats() Stats {
	c := &b.stats
	var ls flood.LineLimiterStats
	if b.mon != nil {
		ls = b.mon.lines.Stats()
	}
	return Stats{
		Received: c.received.Load(), Requests: c.requests.Load(), Replies: c.replies.Load(),
		Refused: map[int]uint64{
			mdp.CodeMalformed: c.r400.Load(), mdp.CodeForbidden: c.r403.Load(), mdp.CodeNoWorker: c.r404.Load(),
			mdp.CodeInternal: c.r500.Load(), mdp.CodeBadReply: c.r502.Load(), mdp.CodeUnavailable: c.r503.Load(),
		},
		Published: c.published.Load(), Delivered: c.delivered.Load(), EventsDropped: c.eventsDropped.Load(),
		SlowSubscribers: c.slowSubscribers.Load(), WorkersRefused: c.workersRefused.Load(),
		WorkersRevoked: c.workersRevoked.Load(), WorkersExpired: c.workersExpired.Load(),
		SpoofedReplies: c.spoofedReplies.Load(), Unauthenticated: c.unauthenticated.Load(),
		Malformed: c.malformed.Load(), Overloaded: c.overloaded.Load(),
		Undeliverable: c.undeliverable.Load(), AuditSkipped: c.auditSkipped.Load(),
		TooLarge: c.tooLarge.Load(), ShutOut: c.shutOut.Load(), ShutOutRefused: c.shutOutRefused.Load(),
		ForeignRoutingIDs: c.foreignRoutingIDs.Load(), DispatchRefused: c.dispatchRefused.Load(),
		ConnectionsCut: c.connCut.Load(), Connections: uint64(b.conns.size()),
		TransportLinesSuppressed: ls.Suppressed, TransportSummaries: ls.Summaries,
	}
}
