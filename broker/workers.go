package broker

import (
	"bytes"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/policy"
)

var reservedFrame = []byte(mdp.ReservedPrefix)

// fromWorker handles an MDPW01 message.
func (b *Broker) fromWorker(p *peerState, m *mdp.Message, now time.Time) {
	switch m.Command {
	case mdp.Ready:
		b.ready(p, m.Service, now)
	case mdp.Heartbeat:
		b.heartbeat(p)
	case mdp.Reply:
		b.workerReply(p, m)
	case mdp.Disconnect:
		if p.worker != nil {
			b.removeWorker(p.worker, false, "worker disconnected")
		}
	}
}

// ready registers a worker once the Authorizer allows it to serve.
func (b *Broker) ready(p *peerState, name string, now time.Time) {
	switch {
	case p.worker != nil:
		b.protocolError(p, name, "READY from a registered worker")
		return
	case b.st.draining:
		b.disconnect(p.rid)
		return
	case mdp.Reserved(name) || mdp.CheckName(name) != nil:
		b.record(p, Event{Action: ActionServe, Outcome: OutcomeFailure, Reason: mdp.ReasonReservedService,
			Severity: SeverityWarning, Service: name})
		b.disconnect(p.rid)
		return
	}
	w := &worker{peer: p, service: name, state: registering, lastSeen: now}
	p.worker = w
	b.st.workers[w] = struct{}{}
	b.submit(p, &job{
		action: policy.Action{Kind: policy.Serve, Service: name},
		ev:     Event{Action: ActionServe, Service: name},
		done:   func(j *job) { b.readyChecked(j, w) },
	})
}

func (b *Broker) readyChecked(j *job, w *worker) {
	if w.removed {
		return
	}
	if !j.allowed() || b.st.draining {
		b.stats.workersRefused.Add(1)
		b.log.Info("worker refused", "user.name", w.peer.who.UserID, "source.ip", w.peer.who.Address,
			"zapgate.service", w.service, "rule.id", j.decision.Rule.ID, "error", firstErr(j.authErr, j.recErr))
		b.removeWorker(w, true, "registration refused")
		return
	}
	now := time.Now()
	s := b.service(w.service)
	w.svc, w.state, w.authAt = s, idle, now
	s.workers++
	s.idle = append(s.idle, w)
	b.log.Info("worker registered", "user.name", w.peer.who.UserID, "source.ip", w.peer.who.Address,
		"zapgate.service", w.service, "rule.id", j.decision.Rule.ID)
	b.dispatch(s, now)
}

// heartbeat re-checks a worker's authorization (MDP: a HEARTBEAT from an
// unknown worker gets DISCONNECT).
func (b *Broker) heartbeat(p *peerState) {
	w := p.worker
	if w == nil {
		b.disconnect(p.rid)
		return
	}
	b.recheck(w)
}

// recheck asks the Authorizer whether w may still serve; a refusal
// disconnects it. Only one re-check per worker is in flight.
func (b *Broker) recheck(w *worker) {
	if w.checking || w.state == registering || w.removed {
		return
	}
	if w.peer.jobs >= b.cfg.MaxInflight {
		return
	}
	w.checking = true
	b.submit(w.peer, &job{
		action: policy.Action{Kind: policy.Serve, Service: w.service},
		audit:  auditDeny,
		ev:     Event{Action: ActionServe, Service: w.service},
		done:   func(j *job) { b.rechecked(j, w) },
	})
}

func (b *Broker) rechecked(j *job, w *worker) {
	w.checking = false
	switch {
	case w.removed:
	case j.authErr != nil:
		// Not trusted until a check passes; it gets no new requests.
		w.authAt = time.Time{}
	case !j.decision.Allow:
		b.stats.workersRevoked.Add(1)
		b.log.Info("worker no longer authorized", "user.name", w.peer.who.UserID, "zapgate.service", w.service,
			"rule.id", j.decision.Rule.ID)
		b.removeWorker(w, true, "authorization withdrawn")
	default:
		w.authAt = time.Now()
		if w.state == idle {
			b.dispatch(w.svc, w.authAt)
		}
	}
}

// workerReply relays a REPLY once it is proven to answer the request the
// broker gave this worker and the worker may still serve.
func (b *Broker) workerReply(p *peerState, m *mdp.Message) {
	w := p.worker
	if w == nil || w.state != busy || !bytes.Equal(m.Client, w.req.token()) {
		b.stats.spoofedReplies.Add(1)
		ev := Event{Action: ActionReply, Outcome: OutcomeFailure, Reason: "not-assigned", Severity: SeverityWarning}
		if w != nil {
			ev.Service = w.service
		}
		b.log.Warn("reply refused: not the worker the request was routed to", "user.name", p.who.UserID,
			"source.ip", p.who.Address, "zapgate.service", ev.Service)
		b.record(p, ev)
		if w != nil {
			b.removeWorker(w, true, "misrouted reply")
		} else {
			b.disconnect(p.rid)
		}
		return
	}
	r := w.req
	if len(m.Body) > 0 && bytes.HasPrefix(m.Body[0], reservedFrame) {
		b.stats.spoofedReplies.Add(1)
		b.record(p, Event{Action: ActionReply, Outcome: OutcomeFailure, Reason: mdp.ReasonReservedFrame,
			Severity: SeverityWarning, Service: r.service, Command: r.command})
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeBadReply, Reason: mdp.ReasonReservedFrame, Detail: "the worker's reply was refused"})
		b.removeWorker(w, true, "forged broker frame")
		return
	}
	w.state = replying
	body, n := m.Body, size(m.Body)
	b.forceHold(r.client, n)
	b.submit(p, &job{
		action: policy.Action{Kind: policy.Serve, Service: w.service},
		ev:     Event{Action: ActionReply, Service: r.service, Command: r.command},
		done: func(j *job) {
			b.unhold(r.client, n)
			b.replyChecked(j, w, r, body)
		},
	})
}

func (b *Broker) replyChecked(j *job, w *worker, r *request, body [][]byte) {
	w.req, r.worker = nil, nil
	switch {
	case j.allowed():
		b.stats.replies.Add(1)
		b.answer(r, body)
	case j.authErr != nil:
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeInternal, Reason: mdp.ReasonInternal, Detail: "the worker's reply could not be authorized"})
	case !j.decision.Allow:
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeBadReply, Reason: mdp.ReasonWorkerRefused, Detail: "the worker is no longer authorized"})
		b.removeWorker(w, true, "reply refused")
		return
	default:
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeInternal, Reason: mdp.ReasonAuditUnavailable, Detail: "the reply could not be audited"})
	}
	if w.removed {
		return
	}
	now := time.Now()
	w.state = idle
	switch {
	case j.allowed():
		w.authAt = now
	case j.authErr != nil:
		w.authAt = time.Time{} // no new requests until a re-check passes
	}
	w.svc.idle = append(w.svc.idle, w)
	b.dispatch(w.svc, now)
}

// removeWorker forgets a worker; a request it held is answered 503
// worker-lost (its outcome is unknown). With tell, the worker is sent
// DISCONNECT.
func (b *Broker) removeWorker(w *worker, tell bool, why string) {
	if w.removed {
		return
	}
	w.removed = true
	delete(b.st.workers, w)
	if s := w.svc; s != nil {
		s.workers--
		s.idle = removeIdle(s.idle, w)
		b.maybeDropService(s)
	}
	switch r := w.req; {
	case r == nil:
	case w.state == dispatching:
		// Nothing was sent yet: another worker may take it.
		w.req, r.worker = nil, nil
		b.requeue(r)
	case w.state == busy:
		w.req, r.worker = nil, nil
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonWorkerLost, Detail: "the worker was lost; the outcome is unknown"})
	}
	if tell && !w.peer.retired {
		b.disconnect(w.peer.rid)
	}
	if w.peer.worker == w {
		w.peer.worker = nil
	}
	b.log.Info("worker removed", "user.name", w.peer.who.UserID, "zapgate.service", w.service, "why", why)
}

func removeIdle(list []*worker, w *worker) []*worker {
	for i, x := range list {
		if x == w {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// tickWorker expires silent workers, sends heartbeats and starts
// re-checks of authorizations older than Recheck.
func (b *Broker) tickWorker(w *worker, now time.Time, beat bool) {
	silent := now.Sub(w.lastSeen)
	switch w.state {
	case registering, idle, dispatching:
		if silent > b.cfg.expiry() {
			b.stats.workersExpired.Add(1)
			b.removeWorker(w, true, "expired")
			return
		}
	case busy:
		if silent > max(b.cfg.ReplyTimeout, b.cfg.expiry()) {
			b.stats.workersExpired.Add(1)
			b.removeWorker(w, true, "expired while holding a request")
			return
		}
	}
	if beat && w.state != registering {
		if err := b.sendWorker(w.peer.rid, mdp.Heartbeat); isUnreachable(err) {
			b.removeWorker(w, false, "connection gone")
			return
		}
	}
	if w.state != registering && now.Sub(w.authAt) >= b.cfg.Recheck {
		b.recheck(w)
	}
}

// protocolError disconnects a peer that broke MDPW01 and audits it.
func (b *Broker) protocolError(p *peerState, service, why string) {
	b.log.Warn("protocol error; disconnecting", "user.name", p.who.UserID, "source.ip", p.who.Address, "why", why)
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: "protocol-error", Severity: SeverityWarning, Service: service})
	if p.worker != nil {
		b.removeWorker(p.worker, true, why)
		return
	}
	b.disconnect(p.rid)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
