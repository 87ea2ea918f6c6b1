package broker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/zapgate/zapgate/policy"
)

// The pool runs every job exactly once and keeps each peer's jobs in
// order, under bursts that refill the shard queues while they drain.
func TestPoolOrderAndExactlyOnce(t *testing.T) {
	var box mailbox
	woke := make(chan struct{}, 1)
	box.wake = func() {
		select {
		case woke <- struct{}{}:
		default:
		}
	}
	authz := authzFunc(func(context.Context, Peer, policy.Action) (policy.Decision, error) {
		return policy.Decision{Allow: true}, nil
	})
	p := newPool(3, authz, &memRecorder{}, slog.New(slog.DiscardHandler), time.Second, &box)
	defer p.close(time.Second)
	const peers, perPeer = 7, 3000
	type tag struct{ peer, seq int }
	seen := map[tag]int{}
	next := map[int]int{} // peer → next sequence number expected
	for seq := range perPeer {
		for peer := range peers {
			j := &job{action: policy.Action{Kind: policy.Request, Service: "s", Command: "c"}, audit: auditNever}
			tg := tag{peer, seq}
			j.done = func(*job) { // on the test goroutine, like the loop
				seen[tg]++
				if next[tg.peer] != tg.seq {
					t.Fatalf("peer %d: job %d finished, want %d", tg.peer, tg.seq, next[tg.peer])
				}
				next[tg.peer]++
			}
			p.submit(peer%3, j)
		}
	}
	got := 0
	deadline := time.After(10 * time.Second)
	var spare []*job
	for got < peers*perPeer {
		select {
		case <-woke:
		case <-deadline:
			t.Fatalf("only %d of %d jobs finished", got, peers*perPeer)
		}
		batch := box.take(spare)
		for _, j := range batch {
			if j == nil {
				t.Fatal("nil job")
			}
			if !j.allowed() {
				t.Fatal("job not authorized")
			}
			j.done(j)
			got++
		}
		spare = batch
	}
	for tg, n := range seen {
		if n != 1 {
			t.Fatalf("job %+v ran %d times", tg, n)
		}
	}
	if len(seen) != peers*perPeer {
		t.Fatalf("%d distinct jobs ran", len(seen))
	}
}

// A panicking Authorizer or Recorder refuses the action instead of
// killing the broker.
func TestPoolRecoversPanics(t *testing.T) {
	var box mailbox
	box.wake = func() {}
	authz := authzFunc(func(context.Context, Peer, policy.Action) (policy.Decision, error) { panic("boom") })
	p := newPool(1, authz, &memRecorder{}, slog.New(slog.DiscardHandler), time.Second, &box)
	defer p.close(time.Second)
	j := &job{action: policy.Action{Kind: policy.Serve, Service: "s"}}
	p.process(p.shards[0], j)
	if j.allowed() || j.authErr == nil || j.refusal("x").Code != 500 {
		t.Fatalf("job %+v", j)
	}
	p.rec = panicRecorder{}
	j = &job{ev: Event{Action: ActionDrop}}
	p.process(p.shards[0], j)
	if j.recErr == nil || j.recorded {
		t.Fatal("recorder panic not turned into an error")
	}
}

type authzFunc func(context.Context, Peer, policy.Action) (policy.Decision, error)

func (f authzFunc) Authorize(ctx context.Context, p Peer, a policy.Action) (policy.Decision, error) {
	return f(ctx, p, a)
}

type panicRecorder struct{}

func (panicRecorder) Record(context.Context, Event) error { panic("disk on fire") }
