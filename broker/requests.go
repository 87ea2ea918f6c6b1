package broker

import (
	"fmt"
	"strings"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/policy"
)

// fromClient handles an MDPC01 request.
func (b *Broker) fromClient(p *peerState, m *mdp.Message, now time.Time) {
	if b.st.draining {
		b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonShuttingDown, Detail: "the broker is shutting down"})
		return
	}
	if b.st.jobs >= b.cfg.MaxJobs {
		b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonOverloaded, Detail: "the broker is overloaded"})
		return
	}
	switch {
	case m.Service == mdp.ServiceMMI:
		b.mmi(p, m)
	case strings.HasPrefix(m.Service, mdp.MMIPrefix):
		b.sendClient(p, m.Service, []byte("501"))
	case m.Service == mdp.ServicePublish:
		b.publish(p, m)
	case m.Service == mdp.ServiceSubscribe:
		b.subscribe(p, m)
	case m.Service == mdp.ServiceUnsubscribe:
		b.unsubscribe(p, m)
	case strings.HasPrefix(m.Service, mdp.ReservedPrefix):
		b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeMalformed, Reason: mdp.ReasonReservedService,
			Detail: fmt.Sprintf("service %q is reserved", m.Service)})
	default:
		b.request(p, m)
	}
}

// request authorizes a client request, then queues it for a worker.
func (b *Broker) request(p *peerState, m *mdp.Message) {
	if err := mdp.CheckName(m.Service); err != nil {
		b.malformedRequest(p, m.Service, "service name "+err.Error())
		return
	}
	if len(m.Body) == 0 {
		b.malformedRequest(p, m.Service, "no command frame")
		return
	}
	cmd := string(m.Body[0])
	if err := mdp.CheckName(cmd); err != nil {
		b.malformedRequest(p, m.Service, "command "+err.Error())
		return
	}
	full := p.pending >= b.cfg.MaxPending
	if s := b.st.services[m.Service]; s != nil && len(s.queue) >= b.cfg.MaxQueue {
		full = true
	}
	if full {
		b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonQueueFull,
			Detail: fmt.Sprintf("service %q", m.Service)})
		return
	}
	n := size(m.Body)
	if !b.hold(p, n) {
		b.refuseHeld(p, m.Service, n)
		return
	}
	r := &request{id: b.st.newID(), client: p, service: m.Service, command: cmd, body: m.Body, held: n}
	p.pending++
	b.submit(p, &job{
		action: policy.Action{Kind: policy.Request, Service: m.Service, Command: cmd},
		ev:     Event{Action: ActionRequest, Service: m.Service, Command: cmd},
		done:   func(j *job) { b.requestChecked(j, r) },
	})
}

func (b *Broker) malformedRequest(p *peerState, service, why string) {
	b.record(p, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: mdp.ReasonMalformed, Severity: SeverityWarning, Service: service})
	b.refuse(p, service, mdp.Refusal{Code: mdp.CodeMalformed, Reason: mdp.ReasonMalformed, Detail: why})
}

func (b *Broker) requestChecked(j *job, r *request) {
	switch {
	case r.client.retired:
		b.finish(r)
	case !j.allowed():
		b.answerRefusal(r, j.refusal(fmt.Sprintf("request service %q command %q", r.service, r.command)))
	case b.st.draining:
		b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonShuttingDown, Detail: "the broker is shutting down"})
	default:
		now := time.Now()
		b.stats.requests.Add(1)
		s := b.service(r.service)
		r.deadline = now.Add(b.cfg.NoWorkerWait)
		s.queue = append(s.queue, r)
		b.dispatch(s, now)
	}
}

// expireRequests refuses requests that waited NoWorkerWait: 404 when the
// service has no worker, 503 busy when its workers are all taken.
func (b *Broker) expireRequests(s *service, now time.Time) {
	for len(s.queue) > 0 && !now.Before(s.queue[0].deadline) {
		r := s.queue[0]
		s.queue = s.queue[1:]
		if s.workers == 0 {
			b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeNoWorker, Reason: mdp.ReasonNoWorker,
				Detail: fmt.Sprintf("no worker for service %q within %s", r.service, b.cfg.NoWorkerWait)})
		} else {
			b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonBusy,
				Detail: fmt.Sprintf("no worker for service %q was free within %s", r.service, b.cfg.NoWorkerWait)})
		}
	}
	b.maybeDropService(s)
}

// answer relays a worker's reply to the client and closes the request.
func (b *Broker) answer(r *request, body [][]byte) {
	if r.answered {
		return
	}
	b.sendClient(r.client, r.service, body...)
	b.finish(r)
}

// answerRefusal refuses a request and closes it.
func (b *Broker) answerRefusal(r *request, ref mdp.Refusal) {
	if r.answered {
		return
	}
	if !r.client.retired {
		b.refuse(r.client, r.service, ref)
	}
	b.finish(r)
}

// finish releases a request's slot in its client's pending count; a
// request is finished once.
func (b *Broker) finish(r *request) {
	if r.answered {
		return
	}
	r.answered = true
	b.release(r)
	r.client.pending--
	b.maybeForget(r.client)
}
