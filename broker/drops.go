package broker

import (
	"unicode/utf8"

	"github.com/zapgate/zapgate/broker/mdp"
)

// errorService is the service of a refusal when the request named none
// that can be echoed.
const errorService = "zapgate"

// record audits an event that needs no authorization (a refusal the loop
// decided itself, a drop). Past the in-flight limits it is only logged.
func (b *Broker) record(p *peerState, ev Event) {
	if p.jobs >= 2*b.cfg.MaxInflight || b.st.jobs >= 2*b.cfg.MaxJobs {
		b.stats.auditSkipped.Add(1)
		b.log.Error("audit backlog: event logged only", "event.action", ev.Action, "event.reason", ev.Reason,
			"user.name", p.who.UserID, "source.ip", p.who.Address)
		return
	}
	b.submit(p, &job{audit: auditAlways, ev: ev})
}

// dropUnauthenticated drops a message without User-Id: the socket let in
// a connection that did not pass ZAP. It is never relayed or answered.
func (b *Broker) dropUnauthenticated(rid string, who Peer) {
	b.stats.unauthenticated.Add(1)
	b.log.Error("message without User-Id dropped: a connection bypassed ZAP", "source.ip", who.Address)
	p := &peerState{rid: rid, who: who, shard: b.pool.shardOf(rid)}
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: "empty-user-id", Severity: SeverityCritical})
}

// malformed answers a message that is not valid MDP: a worker gets
// DISCONNECT, anyone else a 400 refusal.
func (b *Broker) malformed(p *peerState, frames [][]byte, err error) {
	b.stats.malformed.Add(1)
	if len(frames) >= 2 && string(frames[1]) == mdp.WorkerHeader {
		b.protocolError(p, "", err.Error())
		return
	}
	service := errorService
	if len(frames) >= 3 && string(frames[1]) == mdp.ClientHeader && len(frames[2]) > 0 &&
		len(frames[2]) <= mdp.MaxServiceLen && utf8.Valid(frames[2]) {
		service = string(frames[2])
	}
	b.malformedRequest(p, service, err.Error())
}

// overloaded answers a peer with too many messages being authorized: a
// client gets 503, a worker (which never has more than a few) is
// disconnected.
func (b *Broker) overloaded(p *peerState, m *mdp.Message) {
	b.stats.overloaded.Add(1)
	if m.Header == mdp.WorkerHeader {
		b.protocolError(p, m.Service, "too many messages in flight")
		return
	}
	b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonOverloaded, Detail: "too many requests in flight"})
}
