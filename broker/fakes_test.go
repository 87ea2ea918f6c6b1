package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/policy"
)

// tableAuthz is the in-test Authorizer: grants per principal, revoked
// keys, an optional technical failure.
type tableAuthz struct {
	mu      sync.Mutex
	grants  map[string][]string // principal → "kind service command" / "kind topic"
	revoked map[string]bool     // Z85 key
	err     error
	failing map[string]error         // principal → technical failure
	gates   map[string]chan struct{} // principal → decisions wait until closed
	entered chan string              // principals whose decision waits at a gate
	delay   time.Duration
}

func newTableAuthz() *tableAuthz {
	return &tableAuthz{grants: map[string][]string{}, revoked: map[string]bool{}}
}

func (a *tableAuthz) grant(principal string, rules ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.grants[principal] = append(a.grants[principal], rules...)
}

func (a *tableAuthz) revoke(key certs.PublicKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoked[key.String()] = true
}

func (a *tableAuthz) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

// failFor makes every decision about principal a technical failure (nil
// err: decide again).
func (a *tableAuthz) failFor(principal string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failing == nil {
		a.failing = map[string]error{}
	}
	a.failing[principal] = err
}

// gate makes decisions about principal wait until the returned function
// is called; each waiting decision is announced on a.entered.
func (a *tableAuthz) gate(principal string) (open func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gates == nil {
		a.gates = map[string]chan struct{}{}
		a.entered = make(chan string, 16)
	}
	ch := make(chan struct{})
	a.gates[principal] = ch
	return func() {
		a.mu.Lock()
		delete(a.gates, principal)
		a.mu.Unlock()
		close(ch)
	}
}

func (a *tableAuthz) Authorize(_ context.Context, peer Peer, act policy.Action) (policy.Decision, error) {
	a.mu.Lock()
	if ch := a.gates[peer.UserID]; ch != nil {
		a.mu.Unlock()
		a.entered <- peer.UserID
		<-ch
		a.mu.Lock()
	}
	defer a.mu.Unlock()
	if a.delay > 0 {
		time.Sleep(a.delay)
	}
	if a.err != nil {
		return policy.Decision{}, a.err
	}
	if err := a.failing[peer.UserID]; err != nil {
		return policy.Decision{}, err
	}
	if a.revoked[peer.Key] {
		return policy.Decision{Rule: policy.Rule{ID: "key-revoked"}, Revision: "test"}, nil
	}
	for i, g := range a.grants[peer.UserID] {
		if covers(strings.Fields(g), act) {
			return policy.Decision{Allow: true, Roles: []string{"test"}, Rule: policy.Rule{Kind: policy.RuleGrant, ID: fmt.Sprintf("grant#%d", i+1)}, Revision: "test", PolicyHash: "sha256:0123456789abcdef"}, nil
		}
	}
	return policy.Decision{Rule: policy.Rule{ID: "default-deny"}, Revision: "test"}, nil
}

func covers(g []string, a policy.Action) bool {
	if len(g) < 2 || g[0] != a.Kind.String() {
		return false
	}
	switch a.Kind {
	case policy.Serve:
		return mdp.MatchTopic(g[1], a.Service)
	case policy.Request:
		return len(g) == 3 && mdp.MatchTopic(g[1], a.Service) && mdp.MatchTopic(g[2], a.Command)
	case policy.Subscribe:
		if strings.Contains(a.Topic, "*") {
			return g[1] == a.Topic || g[1] == "**"
		}
		return mdp.MatchTopic(g[1], a.Topic)
	case policy.Publish:
		return mdp.MatchTopic(g[1], a.Topic)
	}
	return false
}

// memRecorder collects events; it can be made to fail.
type memRecorder struct {
	mu     sync.Mutex
	events []Event
	err    error
}

func (r *memRecorder) Record(_ context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *memRecorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// find returns the events matching f.
func (r *memRecorder) find(f func(Event) bool) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, ev := range r.events {
		if f(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// wait waits until an event matching f is recorded.
func (r *memRecorder) wait(t testing.TB, what string, f func(Event) bool) Event {
	t.Helper()
	var got []Event
	eventually(t, 3*time.Second, what, func() bool { got = r.find(f); return len(got) > 0 })
	return got[0]
}
