package broker

import (
	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
)

var (
	frameEmpty  = []byte{}
	frameClient = []byte(mdp.ClientHeader)
	frameWorker = []byte(mdp.WorkerHeader)
	frameOK     = []byte(mdp.OKFrame)
)

// send writes one message to a routing id without blocking. It returns
// the send error: EHOSTUNREACH when the peer is gone, EAGAIN when its
// queue is full (ZMQ_ROUTER_MANDATORY makes both visible).
func (b *Broker) send(rid string, head [][]byte, body [][]byte) error {
	if _, err := b.sock.SendBytes([]byte(rid), zmq.SNDMORE|zmq.DONTWAIT); err != nil {
		return err
	}
	n := len(head) + len(body)
	i := 0
	for _, parts := range [2][][]byte{head, body} {
		for _, f := range parts {
			i++
			flag := zmq.DONTWAIT
			if i < n {
				flag |= zmq.SNDMORE
			}
			if _, err := b.sock.SendBytes(f, flag); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendClient sends an MDPC01 reply (or event) to a client; a failure is
// counted and logged, never retried.
func (b *Broker) sendClient(p *peerState, service string, body ...[]byte) bool {
	if p.retired {
		b.stats.undeliverable.Add(1)
		return false
	}
	err := b.send(p.rid, [][]byte{frameEmpty, frameClient, []byte(service)}, body)
	if err != nil {
		b.stats.undeliverable.Add(1)
		b.log.Debug("reply not delivered", "user.name", p.who.UserID, "zapgate.service", service, "error", err)
		return false
	}
	return true
}

// refuse sends a refusal to a client on service.
func (b *Broker) refuse(p *peerState, service string, r mdp.Refusal) {
	b.stats.refused(r.Code)
	b.log.Info("refused", "user.name", p.who.UserID, "source.ip", p.who.Address, "zapgate.service", service,
		"code", r.Code, "reason", r.Reason, "detail", r.Detail)
	b.sendClient(p, service, r.Body()...)
}

// sendWorker sends an MDPW01 command to a worker's routing id.
func (b *Broker) sendWorker(rid string, cmd mdp.Command, rest ...[]byte) error {
	return b.send(rid, [][]byte{frameEmpty, frameWorker, {byte(cmd)}}, rest)
}

// disconnect sends DISCONNECT to a routing id (best effort).
func (b *Broker) disconnect(rid string) {
	if err := b.sendWorker(rid, mdp.Disconnect); err != nil {
		b.log.Debug("DISCONNECT not delivered", "error", err)
	}
}
