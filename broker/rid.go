package broker

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

// minted reports whether a message's routing id was minted for who; a
// message on any other routing id is dropped unanswered (answering would
// address whoever chose the id). The first such message of a routing id
// is audited as a warning, later ones are only counted, so a connection
// cannot spend the audit log's disk by repeating itself.
func (b *Broker) minted(rid string, who Peer) bool {
	if b.cfg.RoutingIDs.Verify(rid, who.Key, who.UserID) {
		return true
	}
	b.stats.foreignRoutingIDs.Add(1)
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
