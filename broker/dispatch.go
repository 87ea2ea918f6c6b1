package broker

import (
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/policy"
)

// dispatch gives waiting requests to idle workers, oldest request and
// longest-idle worker first. A worker is authorized again for its service
// against current state before each request's content is sent to it
// (dispatchChecked): the request is held, not sent, while the check runs.
func (b *Broker) dispatch(s *service, now time.Time) {
	for len(s.queue) > 0 {
		r := s.queue[0]
		if r.client.retired {
			s.queue = s.queue[1:]
			b.finish(r)
			continue
		}
		w := b.takeIdle(s)
		if w == nil {
			break
		}
		s.queue[0] = nil
		s.queue = s.queue[1:]
		w.state, w.req, r.worker = dispatching, r, w
		b.submit(w.peer, &job{
			action: policy.Action{Kind: policy.Serve, Service: w.service},
			audit:  auditDeny,
			ev:     Event{Action: ActionServe, Service: w.service, Command: r.command},
			done:   func(j *job) { b.dispatchChecked(j, w, r) },
		})
	}
	if len(s.queue) == 0 {
		s.queue = nil
	}
	b.maybeDropService(s)
}

// takeIdle removes and returns the first idle worker of s whose last
// authorization did not fail technically; such a worker stays idle until
// a re-check passes.
func (b *Broker) takeIdle(s *service) *worker {
	for i, w := range s.idle {
		if w.authAt.IsZero() || w.peer.jobs >= b.cfg.MaxInflight {
			b.recheck(w)
			continue
		}
		s.idle = append(s.idle[:i], s.idle[i+1:]...)
		return w
	}
	return nil
}

// dispatchChecked sends the request to the worker if the worker may still
// serve; otherwise the worker is removed (a denial is audited and the
// worker sent DISCONNECT) and the request goes back to the head of its
// queue for another worker.
func (b *Broker) dispatchChecked(j *job, w *worker, r *request) {
	if w.removed {
		// removeWorker already put the request back.
		b.dispatch(b.service(r.service), time.Now())
		return
	}
	w.req, r.worker = nil, nil
	now := time.Now()
	switch {
	case j.authErr != nil:
		// Not trusted until a re-check passes; it gets no new requests.
		b.stats.dispatchRefused.Add(1)
		w.authAt = time.Time{}
		b.requeue(r)
		b.backToIdle(w, now, false)
	case !j.decision.Allow:
		b.stats.dispatchRefused.Add(1)
		b.stats.workersRevoked.Add(1)
		b.log.Info("worker no longer authorized at dispatch", "user.name", w.peer.who.UserID,
			"zapgate.service", w.service, "rule.id", j.decision.Rule.ID)
		b.requeue(r)
		b.removeWorker(w, true, "authorization withdrawn at dispatch")
		b.dispatch(b.service(r.service), now)
	case r.answered || r.client.retired:
		b.finish(r)
		b.backToIdle(w, now, true)
	default:
		b.sendRequest(w, r, now)
	}
}

// sendRequest sends a request to a worker it was authorized for.
func (b *Broker) sendRequest(w *worker, r *request, now time.Time) {
	err := b.sendWorker(w.peer.rid, mdp.Request, append([][]byte{r.token(), frameEmpty}, r.body...)...)
	if err != nil {
		// The worker is gone or stuck: put the request back first.
		b.requeue(r)
		b.removeWorker(w, !isUnreachable(err), "request not deliverable")
		b.dispatch(b.service(r.service), now)
		return
	}
	w.state, w.req, r.worker = busy, r, w
	w.authAt, w.lastSeen = now, now
	b.release(r) // libzmq holds the body now
}

// backToIdle returns a worker whose dispatch did not happen to the idle
// list and dispatches again.
func (b *Broker) backToIdle(w *worker, now time.Time, authorized bool) {
	w.state = idle
	if authorized {
		w.authAt = now
	}
	w.svc.idle = append(w.svc.idle, w)
	b.dispatch(w.svc, now)
}

// requeue puts a request that was not delivered back at the head of its
// service's queue; during a drain it is refused instead.
func (b *Broker) requeue(r *request) {
	if r.answered {
		return
	}
	if b.st.draining {
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonShuttingDown, Detail: "the broker is shutting down"})
		return
	}
	s := b.service(r.service)
	s.queue = append([]*request{r}, s.queue...)
}
