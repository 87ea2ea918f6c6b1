package broker

import (
	"net"
	"strconv"
)

// applyCuts audits the connections the accounting cut (conns.go). A cut
// for the backlog is a broker.drop record (reason connection-backlog,
// severity warning) naming the last identity seen on the connection, and
// an offence of its key; a connection with no message read yet is
// audited by its address and offends no key (none is known for it). A
// cut of a shut-out key's connection is only logged: the shut-out was
// audited.
func (b *Broker) applyCuts() {
	for _, c := range b.conns.takeCuts() {
		b.stats.connCut.Add(1)
		who := c.who
		if who.Address == "" {
			who.Address, _, _ = net.SplitHostPort(c.id.peer)
		}
		if c.shutOut {
			b.tlog.Info("connection of a shut-out key cut", "user.name", who.UserID, "peer", c.id.peer)
			continue
		}
		b.tlog.Warn("connection cut: libzmq held more for it than any sender within the limits can make it hold",
			"user.name", who.UserID, "peer", c.id.peer, "bytes", c.read, "max_connection_backlog", b.cfg.MaxConnectionBacklog)
		// A peer of its own: the connection has no routing id the loop
		// could answer on, and is gone.
		p := &peerState{who: who, shard: b.pool.shardOf("conn:" + strconv.Itoa(c.fd))}
		b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: ReasonConnectionBacklog, Severity: SeverityWarning})
		if who.Key != "" && b.cfg.Offenders.Offend(who.Key, who.UserID) {
			b.shutOut(p)
		}
	}
}
