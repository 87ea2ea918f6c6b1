package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/policy"
)

// maxAllowedTopics bounds a subscriber's cache of delivery decisions.
const maxAllowedTopics = 256

// publish authorizes an event, then fans it out and acknowledges it.
// Body: [topic, payload...].
func (b *Broker) publish(p *peerState, m *mdp.Message) {
	if len(m.Body) == 0 {
		b.malformedRequest(p, m.Service, "publish without a topic frame")
		return
	}
	topic := string(m.Body[0])
	if err := mdp.CheckName(topic); err != nil {
		b.malformedRequest(p, m.Service, "topic "+err.Error())
		return
	}
	if mdp.Reserved(topic) {
		b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeMalformed, Reason: mdp.ReasonReservedService,
			Detail: fmt.Sprintf("topic %q is reserved", topic)})
		return
	}
	payload, n := m.Body[1:], size(m.Body)
	if !b.hold(p, n) {
		b.refuseHeld(p, m.Service, n)
		return
	}
	b.submit(p, &job{
		action: policy.Action{Kind: policy.Publish, Topic: topic},
		ev:     Event{Action: ActionPublish, Topic: topic},
		done: func(j *job) {
			b.unhold(p, n)
			if !j.allowed() {
				b.refuse(p, mdp.ServicePublish, j.refusal(fmt.Sprintf("publish topic %q", topic)))
				return
			}
			b.stats.published.Add(1)
			b.fanOut(topic, p.who.UserID, payload, time.Now())
			b.sendClient(p, mdp.ServicePublish, frameOK)
		},
	})
}

// subscribe authorizes a pattern, then adds it. Body: [pattern].
func (b *Broker) subscribe(p *peerState, m *mdp.Message) {
	pattern, ok := b.patternOf(p, m)
	if !ok {
		return
	}
	if p.sub != nil && len(p.sub.patterns) >= b.cfg.MaxSubscriptions && !slices.Contains(p.sub.patterns, pattern) {
		b.refuse(p, m.Service, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonLimit,
			Detail: fmt.Sprintf("at most %d subscriptions", b.cfg.MaxSubscriptions)})
		return
	}
	b.submit(p, &job{
		action: policy.Action{Kind: policy.Subscribe, Topic: pattern},
		ev:     Event{Action: ActionSubscribe, Topic: pattern},
		done:   func(j *job) { b.subscribed(j, p, pattern) },
	})
}

func (b *Broker) subscribed(j *job, p *peerState, pattern string) {
	switch {
	case p.retired:
		return
	case !j.allowed():
		b.refuse(p, mdp.ServiceSubscribe, j.refusal(fmt.Sprintf("subscribe topic %q", pattern)))
		return
	}
	if p.sub == nil {
		p.sub = &subscriber{allowed: map[string]time.Time{}}
		b.st.subs[p] = struct{}{}
	}
	if !slices.Contains(p.sub.patterns, pattern) {
		if len(p.sub.patterns) >= b.cfg.MaxSubscriptions {
			b.refuse(p, mdp.ServiceSubscribe, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonLimit,
				Detail: fmt.Sprintf("at most %d subscriptions", b.cfg.MaxSubscriptions)})
			return
		}
		p.sub.patterns = append(p.sub.patterns, pattern)
	}
	b.log.Info("subscribed", "user.name", p.who.UserID, "zapgate.topic", pattern, "rule.id", j.decision.Rule.ID)
	b.sendClient(p, mdp.ServiceSubscribe, frameOK, []byte(pattern))
}

// unsubscribe removes a pattern. It goes through the pool like every
// other message of the peer, so it takes effect after an earlier
// subscribe to the same pattern.
func (b *Broker) unsubscribe(p *peerState, m *mdp.Message) {
	pattern, ok := b.patternOf(p, m)
	if !ok {
		return
	}
	b.submit(p, &job{audit: auditNever, done: func(*job) {
		if p.retired {
			return
		}
		if s := p.sub; s != nil {
			s.patterns = slices.DeleteFunc(s.patterns, func(x string) bool { return x == pattern })
			b.maybeUnsubscribeAll(p)
		}
		b.sendClient(p, mdp.ServiceUnsubscribe, frameOK, []byte(pattern))
	}})
}

func (b *Broker) patternOf(p *peerState, m *mdp.Message) (string, bool) {
	if len(m.Body) != 1 {
		b.malformedRequest(p, m.Service, "want exactly one pattern frame")
		return "", false
	}
	pattern := string(m.Body[0])
	if err := mdp.CheckPattern(pattern); err != nil {
		b.malformedRequest(p, m.Service, "pattern "+err.Error())
		return "", false
	}
	return pattern, true
}

// fanOut delivers an event to every subscriber with a matching pattern,
// once per subscriber.
func (b *Broker) fanOut(topic, from string, payload [][]byte, now time.Time) {
	for sp := range b.st.subs {
		if sp.sub.matching(topic, mdp.MatchTopic) {
			b.deliver(sp, topic, from, payload, now)
		}
	}
}

// deliver sends an event to one subscriber if it may receive the topic:
// from a decision younger than Recheck, else after asking the
// Authorizer. A subscriber with too many checks in flight is slow and is
// dropped from fan-out.
func (b *Broker) deliver(sp *peerState, topic, from string, payload [][]byte, now time.Time) {
	s := sp.sub
	if until, ok := s.allowed[topic]; ok && s.checks == 0 && now.Before(until) {
		b.sendEvent(sp, topic, from, payload)
		return
	}
	if sp.jobs >= b.cfg.MaxInflight || b.st.jobs >= b.cfg.MaxJobs {
		b.dropSubscriber(sp, "authorization backlog")
		return
	}
	// The payload waits for the check: it counts against the
	// subscriber's held bytes (shared payloads once per subscriber).
	n := size(payload)
	if !b.hold(sp, n) {
		b.dropSubscriber(sp, "held bytes")
		return
	}
	s.checks++
	b.submit(sp, &job{
		action: policy.Action{Kind: policy.Subscribe, Topic: topic},
		audit:  auditDeny,
		ev:     Event{Action: ActionSubscribe, Topic: topic},
		done: func(j *job) {
			b.unhold(sp, n)
			b.deliveryChecked(j, sp, s, topic, from, payload)
		},
	})
}

func (b *Broker) deliveryChecked(j *job, sp *peerState, s *subscriber, topic, from string, payload [][]byte) {
	s.checks--
	switch {
	case sp.retired || sp.sub != s:
	case j.authErr != nil:
		b.stats.eventsDropped.Add(1)
	case !j.decision.Allow:
		// The grant behind the subscription no longer holds: end every
		// pattern that matches this topic.
		var ended []string
		for _, p := range s.patterns {
			if mdp.MatchTopic(p, topic) {
				ended = append(ended, p)
			}
		}
		b.log.Info("subscription ended: delivery not allowed", "user.name", sp.who.UserID, "zapgate.topic", topic,
			"rule.id", j.decision.Rule.ID)
		b.endSubscriptions(sp, ended, mdp.Refusal{Code: mdp.CodeForbidden, Reason: mdp.ReasonForbidden})
	default:
		if len(s.allowed) >= maxAllowedTopics {
			clear(s.allowed)
		}
		s.allowed[topic] = time.Now().Add(b.cfg.Recheck)
		b.sendEvent(sp, topic, from, payload)
	}
}

// sendEvent sends [topic, publisher, payload...] on ServiceEvent.
func (b *Broker) sendEvent(sp *peerState, topic, from string, payload [][]byte) {
	head := [][]byte{frameEmpty, frameClient, []byte(mdp.ServiceEvent), []byte(topic), []byte(from)}
	err := b.send(sp.rid, head, payload)
	switch {
	case err == nil:
		b.stats.delivered.Add(1)
	case isUnreachable(err):
		b.stats.eventsDropped.Add(1)
		sp.sub = nil
		delete(b.st.subs, sp)
	default:
		b.stats.eventsDropped.Add(1)
		b.dropSubscriber(sp, "send queue full")
	}
}

// dropSubscriber removes a slow subscriber from fan-out, tells it if it
// can, and audits it.
func (b *Broker) dropSubscriber(sp *peerState, why string) {
	if sp.sub == nil {
		return
	}
	b.stats.slowSubscribers.Add(1)
	b.log.Warn("slow subscriber dropped from fan-out", "user.name", sp.who.UserID, "source.ip", sp.who.Address, "why", why)
	b.record(sp, Event{Action: ActionDrop, Outcome: OutcomeFailure, Reason: mdp.ReasonSlowSubscriber})
	b.endSubscriptions(sp, sp.sub.patterns, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonSlowSubscriber})
}

// endSubscriptions removes patterns and tells the subscriber, one
// [zapgate.error, code, reason, pattern] message on ServiceEvent per
// pattern (best effort).
func (b *Broker) endSubscriptions(sp *peerState, patterns []string, r mdp.Refusal) {
	if sp.sub == nil {
		return
	}
	ended := slices.Clone(patterns)
	sp.sub.patterns = slices.DeleteFunc(sp.sub.patterns, func(x string) bool { return slices.Contains(ended, x) })
	b.maybeUnsubscribeAll(sp)
	for _, p := range ended {
		r.Detail = p
		if !sp.retired {
			_ = b.send(sp.rid, [][]byte{frameEmpty, frameClient, []byte(mdp.ServiceEvent)}, r.Body())
		}
	}
}

func (b *Broker) maybeUnsubscribeAll(sp *peerState) {
	if sp.sub != nil && len(sp.sub.patterns) == 0 {
		sp.sub = nil
		delete(b.st.subs, sp)
		b.maybeForget(sp)
	}
}
