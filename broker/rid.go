package broker

import (
	"unicode/utf8"

	"github.com/zapgate/zapgate/broker/mdp"
)

// RoutingIDs verifies that a routing id was minted by the ZAP handler for
// a connection's key and principal. The broker addresses each peer only
// by such an id, so a peer can never choose it, and a later connection
// can never present it: everything the broker holds for a connection
// (registration, queued requests, owed replies, subscriptions) is keyed
// by it. *routingid.Minter implements it; it must be safe for concurrent
// use.
type RoutingIDs interface {
	// Verify reports whether id was minted for the connection
	// authenticated with key (Z85) as user.
	Verify(id, key, user string) bool
}

// ReasonForeignRoutingID is the broker.drop reason of a message whose
// routing id the ZAP handler did not mint for its connection: the reply
// that should have set it was not applied (libzmq kept the id the peer
// asked for), or the ZAP handler does not mint ids.
const ReasonForeignRoutingID = "foreign-routing-id"

// maxForeign bounds the routing ids remembered as already audited.
const maxForeign = 4096

// minted reports whether a message's routing id was minted for who. A
// message on any other routing id is dropped: it is not relayed and no
// state is kept for it. The sender is only told to reconnect
// (askToReconnect), since a new connection gets a minted id. The first
// such message of a routing id is audited as a warning, later ones are
// only counted, so a connection cannot spend the audit log's disk by
// repeating itself.
func (b *Broker) minted(rid string, frames [][]byte, who Peer) bool {
	if b.cfg.RoutingIDs.Verify(rid, who.Key, who.UserID) {
		return true
	}
	b.stats.foreignRoutingIDs.Add(1)
	b.askToReconnect(rid, frames)
	key := who.Key + "\x00" + rid
	if _, seen := b.st.foreign[key]; seen {
		return false
	}
	if len(b.st.foreign) >= maxForeign {
		clear(b.st.foreign)
	}
	b.st.foreign[key] = struct{}{}
	b.log.Warn("message on a routing id not minted for its connection dropped",
		"user.name", who.UserID, "source.ip", who.Address)
	p := &peerState{rid: rid, who: who, shard: b.pool.shardOf(rid)}
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: ReasonForeignRoutingID, Severity: SeverityWarning})
	return false
}

// askToReconnect answers a message on a foreign routing id: a worker
// message with DISCONNECT (MDP workers then reconnect), a client message
// with a 503 reconnect refusal (the Go library then reconnects). The
// routing id is held by the sender alone (libzmq refuses a duplicate), and
// the answer carries nothing else.
func (b *Broker) askToReconnect(rid string, frames [][]byte) {
	switch {
	case len(frames) >= 2 && string(frames[1]) == mdp.WorkerHeader:
		b.disconnect(rid)
	case len(frames) >= 3 && string(frames[1]) == mdp.ClientHeader:
		service := errorService
		if f := frames[2]; len(f) > 0 && len(f) <= mdp.MaxServiceLen && utf8.Valid(f) {
			service = string(f)
		}
		ref := mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonReconnect,
			Detail: "this connection has no routing id from the broker; open a new connection"}
		b.stats.refused(ref.Code)
		_ = b.send(rid, [][]byte{frameEmpty, frameClient, []byte(service)}, ref.Body())
	}
}
