package broker

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
)

func TestEventsAuthorizationAndFanOut(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "publish job.status.*")
	e.authz.grant("BACKUP01$", "subscribe job.**")
	e.authz.grant("BACKUP02$", "subscribe job.status.*")
	pub := e.dial("PROXY01$")
	s1, s2, none := e.dial("BACKUP01$"), e.dial("BACKUP02$"), e.dial("NOBODY$")

	s1.request(mdp.ServiceSubscribe, "job.**")
	if got := s1.reply(mdp.ServiceSubscribe); !slices.Equal(got, []string{mdp.OKFrame, "job.**"}) {
		t.Fatalf("subscribe ack %q", got)
	}
	s2.request(mdp.ServiceSubscribe, "job.status.*")
	s2.reply(mdp.ServiceSubscribe)
	s2.request(mdp.ServiceSubscribe, "job.**") // wider than its grant
	if r := s2.refusal(mdp.ServiceSubscribe); r.Code != 403 || r.Detail != `subscribe topic "job.**"` {
		t.Fatalf("refusal %+v", r)
	}
	none.request(mdp.ServiceSubscribe, "job.**")
	if r := none.refusal(mdp.ServiceSubscribe); r.Code != 403 {
		t.Fatalf("refusal %+v", r)
	}
	none.request(mdp.ServiceSubscribe, "job*")
	if r := none.refusal(mdp.ServiceSubscribe); r.Code != 400 {
		t.Fatalf("bad pattern: %+v", r)
	}

	pub.request(mdp.ServicePublish, "job.status.p1", "running", "42%")
	if got := pub.reply(mdp.ServicePublish); !slices.Equal(got, []string{mdp.OKFrame}) {
		t.Fatalf("publish ack %q", got)
	}
	want := []string{"job.status.p1", "PROXY01$", "running", "42%"}
	for _, s := range []*node{s1, s2} {
		if got := s.reply(mdp.ServiceEvent); !slices.Equal(got, want) {
			t.Fatalf("%s got %q", s.name, got)
		}
	}
	pub.request(mdp.ServicePublish, "job.other", "x")
	if r := pub.refusal(mdp.ServicePublish); r.Code != 403 {
		t.Fatalf("refusal %+v", r)
	}
	pub.request(mdp.ServicePublish, "zapgate.event", "x")
	if r := pub.refusal(mdp.ServicePublish); r.Code != 400 || r.Reason != mdp.ReasonReservedService {
		t.Fatalf("reserved topic: %+v", r)
	}
	if _, err := none.recv(100 * time.Millisecond); !errors.Is(err, errTimeout) {
		t.Fatal("an unauthorized node got an event")
	}
	for _, action := range []string{ActionPublish, ActionSubscribe} {
		ok := e.rec.find(func(ev Event) bool { return ev.Action == action && ev.Outcome == OutcomeSuccess })
		bad := e.rec.find(func(ev Event) bool { return ev.Action == action && ev.Outcome == OutcomeFailure })
		if len(ok) == 0 || len(bad) == 0 {
			t.Errorf("%s: %d successes, %d failures recorded", action, len(ok), len(bad))
		}
	}
}

func TestUnsubscribe(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "publish job.status.*")
	e.authz.grant("BACKUP01$", "subscribe job.**")
	pub, s1, s2 := e.dial("PROXY01$"), e.dial("BACKUP01$"), e.dial("BACKUP01$")
	for _, s := range []*node{s1, s2} {
		s.request(mdp.ServiceSubscribe, "job.**")
		s.reply(mdp.ServiceSubscribe)
	}
	s2.request(mdp.ServiceUnsubscribe, "job.**")
	if got := s2.reply(mdp.ServiceUnsubscribe); !slices.Equal(got, []string{mdp.OKFrame, "job.**"}) {
		t.Fatalf("unsubscribe ack %q", got)
	}
	pub.request(mdp.ServicePublish, "job.status.p1", "done")
	pub.reply(mdp.ServicePublish)
	s1.reply(mdp.ServiceEvent)
	if _, err := s2.recv(100 * time.Millisecond); !errors.Is(err, errTimeout) {
		t.Fatal("event after unsubscribe")
	}
	// Subscribing twice to a pattern is one subscription: one event.
	s1.request(mdp.ServiceSubscribe, "job.**")
	s1.reply(mdp.ServiceSubscribe)
	pub.request(mdp.ServicePublish, "job.status.p1", "again")
	pub.reply(mdp.ServicePublish)
	s1.reply(mdp.ServiceEvent)
	if _, err := s1.recv(100 * time.Millisecond); !errors.Is(err, errTimeout) {
		t.Fatal("duplicate event")
	}
}

func TestSubscriberRevoked(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "publish job.status.*")
	e.authz.grant("BACKUP01$", "subscribe job.**")
	pub, sub := e.dial("PROXY01$"), e.dial("BACKUP01$")
	sub.request(mdp.ServiceSubscribe, "job.**")
	sub.reply(mdp.ServiceSubscribe)
	pub.request(mdp.ServicePublish, "job.status.p1", "a")
	pub.reply(mdp.ServicePublish)
	sub.reply(mdp.ServiceEvent)

	e.authz.revoke(sub.key)
	time.Sleep(testConfig().Recheck) // past the cached decision
	pub.request(mdp.ServicePublish, "job.status.p1", "b")
	pub.reply(mdp.ServicePublish)
	r := sub.refusal(mdp.ServiceEvent)
	if r.Code != 403 || r.Detail != "job.**" {
		t.Fatalf("subscription end %+v", r)
	}
	ev := e.rec.wait(t, "delivery refusal", func(ev Event) bool {
		return ev.Action == ActionSubscribe && ev.Outcome == OutcomeFailure
	})
	if ev.Topic != "job.status.p1" || ev.RuleID != "key-revoked" {
		t.Fatalf("event %+v", ev)
	}
	pub.request(mdp.ServicePublish, "job.status.p1", "c")
	pub.reply(mdp.ServicePublish)
	if _, err := sub.recv(100 * time.Millisecond); !errors.Is(err, errTimeout) {
		t.Fatal("event after the subscription ended")
	}
}

// A subscriber that stops reading is dropped from fan-out once its queue
// is full; the publisher and the other subscribers are not slowed down.
func TestSlowSubscriberDropped(t *testing.T) {
	cfg := testConfig()
	cfg.SendHWM = 4
	e := newEnv(t, cfg)
	e.authz.grant("PROXY01$", "publish job.status.*")
	e.authz.grant("BACKUP01$", "subscribe job.**")
	pub := e.dial("PROXY01$")
	slow := e.dial("BACKUP01$", func(s *zmq.Socket) {
		must(t, s.SetRcvhwm(1))
		must(t, s.SetRcvbuf(4096))
	})
	fast := e.dial("BACKUP01$")
	for _, s := range []*node{slow, fast} {
		s.request(mdp.ServiceSubscribe, "job.**")
		s.reply(mdp.ServiceSubscribe)
	}
	const events = 200
	payload := bytes.Repeat([]byte("x"), 256<<10)
	var wg sync.WaitGroup
	wg.Add(1)
	received := 0
	go func() { // the fast subscriber reads everything on its own goroutine
		defer wg.Done()
		for received < events {
			msg, err := fast.recv(5 * time.Second)
			if err != nil {
				return
			}
			if len(msg) > 3 && string(msg[2]) == mdp.ServiceEvent && string(msg[3]) != mdp.ErrorFrame {
				received++
			}
		}
	}()
	start := time.Now()
	for i := range events {
		pub.send(append(bs("", mdp.ClientHeader, mdp.ServicePublish, "job.status.p1"), payload)...)
		if got := pub.reply(mdp.ServicePublish); len(got) != 1 || got[0] != mdp.OKFrame {
			t.Fatalf("publish %d: %q", i, got)
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	t.Logf("%d events of 256 KiB published in %s; fast subscriber got %d", events, elapsed, received)
	if received != events {
		t.Fatalf("fast subscriber got %d of %d", received, events)
	}
	if elapsed > 10*time.Second {
		t.Fatalf("publishing took %s", elapsed)
	}
	st := e.broker.Stats()
	if st.SlowSubscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.rec.wait(t, "slow subscriber audited", func(ev Event) bool {
		return ev.Action == ActionDrop && ev.Reason == mdp.ReasonSlowSubscriber
	})
}
