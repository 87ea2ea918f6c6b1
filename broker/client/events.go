package client

import (
	"slices"

	"github.com/zapgate/zapgate/broker/mdp"
)

// Event is one job-status event received through Subscribe.
type Event struct {
	// Topic is the event's topic, e.g. "job.status.PROXY01".
	Topic string
	// Publisher is the principal of the node that published it, as the
	// broker authenticated it (it cannot be forged by the publisher).
	Publisher string
	// Payload is the event's frames after the topic.
	Payload [][]byte
	// Missed counts events of this subscription dropped since the last
	// one delivered because the channel was full.
	Missed uint64
	// Gap is true when events may have been lost before this one
	// because the connection was re-established or the broker dropped
	// this node as a slow subscriber.
	Gap bool
	// Err is set on the last event of a subscription the broker ended
	// (a *RefusedError, e.g. ErrForbidden after the node's rights
	// shrank), or ErrClosed; the channel is closed after it.
	Err error
}

// subscription is one Subscribe call's channel.
type subscription struct {
	pattern string
	ch      chan Event
	missed  uint64
	gap     bool
	closed  bool
}

// deliver hands ev to the subscriber without blocking.
func (s *subscription) deliver(ev Event) {
	ev.Missed, ev.Gap = s.missed, s.gap
	select {
	case s.ch <- ev:
		s.missed, s.gap = 0, false
	default:
		s.missed++
	}
}

// end delivers a final event with err if there is room, then closes.
func (s *subscription) end(err error) {
	if s.closed {
		return
	}
	s.closed = true
	select {
	case s.ch <- Event{Err: err, Missed: s.missed, Gap: s.gap}:
	default:
	}
	close(s.ch)
}

// onEvent handles a message on the event service: an event, or the end of
// a subscription pattern.
func (c *conn) onEvent(body [][]byte) {
	if r, ok := mdp.ParseRefusal(body); ok {
		pattern := r.Detail
		switch {
		case r.Code == mdp.CodeUnavailable && r.Reason == mdp.ReasonSlowSubscriber:
			c.markGap(pattern)
			c.send(mdp.ServiceSubscribe, pattern, opSubscribe)
		case r.Code == mdp.CodeUnavailable:
			c.markGap(pattern) // shutting down: re-subscribed on reconnection
		default:
			c.endPattern(pattern, &RefusedError{Service: mdp.ServiceSubscribe, Code: r.Code, Reason: r.Reason, Detail: pattern})
		}
		return
	}
	if len(body) < 2 {
		c.cl.log.Warn("ignoring a malformed event", "frames", len(body))
		return
	}
	ev := Event{Topic: string(body[0]), Publisher: string(body[1]), Payload: body[2:]}
	for _, s := range c.subs {
		if mdp.MatchTopic(s.pattern, ev.Topic) {
			s.deliver(ev)
		}
	}
}

func (c *conn) markGap(pattern string) {
	for _, s := range c.subs {
		if s.pattern == pattern {
			s.gap = true
		}
	}
}

// endPattern ends every local subscription to pattern with err.
func (c *conn) endPattern(pattern string, err error) {
	c.subs = slices.DeleteFunc(c.subs, func(s *subscription) bool {
		if s.pattern != pattern {
			return false
		}
		s.end(err)
		return true
	})
}

// unsubscribe ends one Subscribe call; the broker is told when no other
// call uses the pattern.
func (c *conn) unsubscribe(sub *subscription) {
	if sub.closed {
		return
	}
	c.subs = slices.DeleteFunc(c.subs, func(s *subscription) bool { return s == sub })
	sub.closed = true
	close(sub.ch)
	c.unsubscribePattern(sub.pattern)
}

func (c *conn) unsubscribePattern(pattern string) {
	if slices.ContainsFunc(c.subs, func(s *subscription) bool { return s.pattern == pattern }) {
		return
	}
	c.send(mdp.ServiceUnsubscribe, pattern, opRequest)
}

// resubscribe subscribes every pattern again on a new connection.
func (c *conn) resubscribe() {
	var done []string
	for _, s := range c.subs {
		if !slices.Contains(done, s.pattern) {
			done = append(done, s.pattern)
			c.send(mdp.ServiceSubscribe, s.pattern, opSubscribe)
		}
	}
}

// send queues a message of the library's own (no caller waits for it).
func (c *conn) send(service, pattern string, kind opKind) {
	l := c.lane(service)
	l.queue = append(l.queue, &op{kind: kind, service: service, body: [][]byte{[]byte(pattern)},
		sub: &subscription{pattern: pattern}})
	c.pump(l)
}
