package broker

import (
	"fmt"
	"unicode/utf8"

	"github.com/zapgate/zapgate/broker/mdp"
)

// Drop reasons of the memory limits (Event.Reason of broker.drop).
const (
	// ReasonTooLarge: a message had more frames or bytes than the broker
	// takes (Config.MaxFrames, Config.MaxMessageBytes).
	ReasonTooLarge = mdp.ReasonTooLarge
	// ReasonShutOut: a key offended Config.Offenders' threshold of times
	// and is shut out.
	ReasonShutOut = mdp.ReasonShutOut
)

// Bounds of the part of an oversized message kept to answer it.
const (
	keptFrames    = 4   // delimiter, header, service or command, command
	keptFrameSize = 255 // mdp.MaxServiceLen
)

// inbound is one message read after its routing id. Within the limits it
// holds every frame; past them only a short prefix to answer with.
type inbound struct {
	frames [][]byte
	who    Peer
	count  int   // frames in the message
	size   int64 // bytes in the message
	over   bool  // past MaxFrames or MaxMessageBytes
}

// readMessage reads the frames of one message one by one, keeping them
// only while the message stays within Config.MaxFrames and
// Config.MaxMessageBytes; the rest is read and dropped, so a message
// never costs the broker more than the limit however long it is. Metadata
// comes from the first body frame: libzmq 4.3.4 drops it from a
// routing-id frame that a poll prefetched. So does the connection the
// message came from (ZMQ_SRCFD), which the connection accounting is told
// of (conns.go).
func (b *Broker) readMessage() (inbound, error) {
	first, err := b.recv.RecvMeta(0)
	if err != nil {
		return inbound{}, fmt.Errorf("broker: receive: %w", err)
	}
	in := inbound{who: Peer{UserID: first.Props[0], Key: first.Props[1], Address: first.Props[2]}}
	b.conns.delivered(first.FD, in.who)
	in.add(first.Data, &b.cfg)
	for more := first.More; more; {
		f, err := b.recv.Recv(0)
		if err != nil {
			return in, fmt.Errorf("broker: receive: %w", err)
		}
		in.add(f.Data, &b.cfg)
		more = f.More
	}
	return in, nil
}

// add counts a frame and keeps it while the message is within the limits.
func (in *inbound) add(f []byte, c *Config) {
	in.count++
	in.size += int64(len(f))
	if in.over {
		return
	}
	if in.count > c.MaxFrames || in.size > c.MaxMessageBytes {
		in.over = true
		in.frames = keepPrefix(in.frames)
		return
	}
	in.frames = append(in.frames, f)
}

// keepPrefix copies the first keptFrames frames, each cut to
// keptFrameSize bytes, so the rest can be collected.
func keepPrefix(frames [][]byte) [][]byte {
	out := make([][]byte, 0, keptFrames)
	for _, f := range frames[:min(len(frames), keptFrames)] {
		out = append(out, append([]byte(nil), f[:min(len(f), keptFrameSize)]...))
	}
	return out
}

// serviceOf is the service to answer a client message on: its service
// frame when it is one, else errorService.
func serviceOf(frames [][]byte) string {
	if len(frames) >= 3 && string(frames[1]) == mdp.ClientHeader && len(frames[2]) > 0 &&
		len(frames[2]) <= mdp.MaxServiceLen && utf8.Valid(frames[2]) {
		return string(frames[2])
	}
	return errorService
}

func isWorker(frames [][]byte) bool {
	return len(frames) >= 2 && string(frames[1]) == mdp.WorkerHeader
}

// tooLarge refuses a message over the frame or byte limit, audits it and
// counts an offence against the sender's key: a client gets 400
// message-too-large, a worker DISCONNECT.
func (b *Broker) tooLarge(p *peerState, in inbound) {
	b.stats.tooLarge.Add(1)
	service := serviceOf(in.frames)
	b.log.Warn("message over the limits refused", "user.name", p.who.UserID, "source.ip", p.who.Address,
		"zapgate.service", service, "frames", in.count, "bytes", in.size,
		"max_frames", b.cfg.MaxFrames, "max_message_bytes", b.cfg.MaxMessageBytes)
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: ReasonTooLarge, Severity: SeverityWarning, Service: service})
	if isWorker(in.frames) {
		if p.worker != nil {
			b.removeWorker(p.worker, true, "message over the limits")
		} else {
			b.disconnect(p.rid)
		}
	} else {
		b.refuse(p, service, mdp.Refusal{Code: mdp.CodeMalformed, Reason: mdp.ReasonTooLarge,
			Detail: fmt.Sprintf("message of %d frames and %d bytes; the broker takes at most %d frames and %d bytes",
				in.count, in.size, b.cfg.MaxFrames, b.cfg.MaxMessageBytes)})
	}
	if b.cfg.Offenders.Offend(p.who.Key, p.who.UserID) {
		b.shutOut(p)
	}
}

// shutOut acts on a key that just crossed the offence threshold: the
// shut-out is audited once, and every connection of that key loses its
// worker registration (DISCONNECT) and its subscriptions. Its later
// messages get 403 shut-out, its handshakes ZAP 400 (when the ZAP
// handler shares the Offenders).
func (b *Broker) shutOut(p *peerState) {
	b.stats.shutOut.Add(1)
	_, until, _ := b.cfg.Offenders.ShutOut(p.who.Key)
	b.log.Warn("key shut out after repeated offences", "user.name", p.who.UserID, "source.ip", p.who.Address,
		"until", until)
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: ReasonShutOut, Severity: SeverityWarning})
	for _, q := range b.st.peers {
		if q.who.Key != p.who.Key {
			continue
		}
		if q.worker != nil {
			b.removeWorker(q.worker, true, "key shut out")
		}
		if q.sub != nil {
			b.endSubscriptions(q, q.sub.patterns, mdp.Refusal{Code: mdp.CodeForbidden, Reason: mdp.ReasonShutOut})
		}
	}
}

// refuseShutOut answers a message of a shut-out key without reading it
// further: a client gets 403 shut-out, a worker DISCONNECT. It is logged,
// not audited: the shut-out itself was.
func (b *Broker) refuseShutOut(p *peerState, frames [][]byte) {
	b.stats.shutOutRefused.Add(1)
	defer b.maybeForget(p)
	if isWorker(frames) {
		if p.worker != nil {
			b.removeWorker(p.worker, true, "key shut out")
		} else {
			b.disconnect(p.rid)
		}
		return
	}
	b.stats.refused(mdp.CodeForbidden)
	b.log.Debug("refused: key shut out", "user.name", p.who.UserID, "source.ip", p.who.Address)
	b.sendClient(p, serviceOf(frames), mdp.Refusal{Code: mdp.CodeForbidden, Reason: mdp.ReasonShutOut,
		Detail: "this key is shut out for a while after repeated offences"}.Body()...)
}

// size is the bytes of a message body.
func size(body [][]byte) int64 {
	var n int64
	for _, f := range body {
		n += int64(len(f))
	}
	return n
}

// hold reserves n bytes held for p against Config.MaxPeerBytes and
// Config.MaxQueuedBytes; false means a limit would be passed, and nothing
// is reserved.
func (b *Broker) hold(p *peerState, n int64) bool {
	if p.held+n > b.cfg.MaxPeerBytes || b.st.held+n > b.cfg.MaxQueuedBytes {
		return false
	}
	b.forceHold(p, n)
	return true
}

// forceHold reserves n bytes for p whatever the limits: for a reply,
// bounded by the one request it answers.
func (b *Broker) forceHold(p *peerState, n int64) {
	p.held += n
	b.st.held += n
}

// unhold releases n bytes held for p.
func (b *Broker) unhold(p *peerState, n int64) {
	p.held -= n
	b.st.held -= n
}

// refuseHeld refuses a message that would pass the held-bytes limits with
// 503 queue-full and audits it.
func (b *Broker) refuseHeld(p *peerState, service string, n int64) {
	b.stats.overloaded.Add(1)
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: mdp.ReasonQueueFull, Severity: SeverityWarning, Service: service})
	b.refuse(p, service, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonQueueFull,
		Detail: fmt.Sprintf("the broker holds too many bytes for you (a message of %d bytes is past max_peer_bytes %d or max_queued_bytes %d)",
			n, b.cfg.MaxPeerBytes, b.cfg.MaxQueuedBytes)})
}

// release gives back the bytes a request's body held and drops the body.
func (b *Broker) release(r *request) {
	if r.held == 0 {
		return
	}
	b.unhold(r.client, r.held)
	r.held, r.body = 0, nil
}
