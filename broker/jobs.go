package broker

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/policy"
)

// auditMode says when a job's event is recorded.
type auditMode uint8

const (
	auditAlways auditMode = iota // every decision (grants and refusals)
	auditDeny                    // refusals only (re-checks, deliveries)
	auditNever                   // nothing (heartbeats that pass are not events)
)

// job is one authorization (and audit) of one message, run off the loop
// by the pool, then finished on the loop by done.
type job struct {
	peer   *peerState
	who    Peer
	action policy.Action // Kind 0: nothing to authorize, only record ev
	audit  auditMode
	ev     Event // template: Action, Service, Command, Topic; preset Outcome for drops

	decision policy.Decision
	authErr  error
	recErr   error
	recorded bool

	done func(j *job) // runs on the loop
}

// allowed reports whether the action was authorized and, if its event
// had to be recorded, recorded.
func (j *job) allowed() bool {
	return j.action.Kind != 0 && j.authErr == nil && j.decision.Allow && j.recErr == nil
}

// refusal maps a job's failure to the refusal a client gets.
func (j *job) refusal(detail string) mdp.Refusal {
	switch {
	case j.authErr != nil:
		return mdp.Refusal{Code: mdp.CodeInternal, Reason: mdp.ReasonInternal, Detail: detail}
	case !j.decision.Allow:
		return mdp.Refusal{Code: mdp.CodeForbidden, Reason: mdp.ReasonForbidden, Detail: detail}
	default:
		return mdp.Refusal{Code: mdp.CodeInternal, Reason: mdp.ReasonAuditUnavailable, Detail: detail}
	}
}

// mailbox carries finished jobs from the pool back to the loop and wakes
// the loop when it goes from empty to non-empty.
type mailbox struct {
	mu    sync.Mutex
	items []*job
	rung  bool
	wake  func()
}

func (m *mailbox) post(j *job) {
	m.mu.Lock()
	m.items = append(m.items, j)
	ring := !m.rung
	m.rung = true
	m.mu.Unlock()
	if ring {
		m.wake()
	}
}

// take returns the finished jobs and swaps in spare as the new buffer.
func (m *mailbox) take(spare []*job) []*job {
	m.mu.Lock()
	out := m.items
	m.items = spare[:0]
	m.rung = false
	m.mu.Unlock()
	return out
}

// pool runs jobs on Parallelism goroutines; a peer's jobs always go to the
// same goroutine (shard), in order.
type pool struct {
	authz   Authorizer
	rec     Recorder
	log     *slog.Logger
	timeout time.Duration
	out     *mailbox
	ctx     context.Context
	cancel  context.CancelFunc
	shards  []*shard
	wg      sync.WaitGroup
}

type shard struct {
	mu   sync.Mutex
	q    []*job
	sig  chan struct{}
	quit chan struct{}
	fps  map[string]string // key → fingerprint cache, bounded
}

func newPool(n int, authz Authorizer, rec Recorder, log *slog.Logger, timeout time.Duration, out *mailbox) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{authz: authz, rec: rec, log: log, timeout: timeout, out: out, ctx: ctx, cancel: cancel}
	for range n {
		s := &shard{sig: make(chan struct{}, 1), quit: make(chan struct{}), fps: map[string]string{}}
		p.shards = append(p.shards, s)
		p.wg.Add(1)
		go p.run(s)
	}
	return p
}

// shardOf picks the shard of a routing id.
func (p *pool) shardOf(rid string) int {
	h := fnv.New32a()
	h.Write([]byte(rid))
	return int(h.Sum32() % uint32(len(p.shards)))
}

func (p *pool) submit(shard int, j *job) {
	s := p.shards[shard]
	s.mu.Lock()
	s.q = append(s.q, j)
	s.mu.Unlock()
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

func (p *pool) run(s *shard) {
	defer p.wg.Done()
	var spare []*job
	for {
		select {
		case <-s.sig:
		case <-s.quit:
			return
		}
		for {
			s.mu.Lock()
			batch := s.q
			s.q = spare[:0]
			s.mu.Unlock()
			for i, j := range batch {
				p.process(s, j)
				p.out.post(j)
				batch[i] = nil
			}
			// batch becomes the next spare only now that it is processed.
			spare = batch
			if len(batch) == 0 {
				break
			}
		}
	}
}

// close stops the shards: it cancels calls still running (after a drain
// timeout) and waits up to wait for them to return.
func (p *pool) close(wait time.Duration) bool {
	p.cancel()
	for _, s := range p.shards {
		close(s.quit)
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

func (p *pool) process(s *shard, j *job) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	if j.action.Kind != 0 {
		j.decision, j.authErr = p.authorize(ctx, j.who, j.action)
		if j.authErr != nil {
			p.log.Error("authorization failed; refusing", "user.name", j.who.UserID, "action", j.action.String(), "error", j.authErr)
		}
	}
	ev, record := p.event(s, j)
	if !record {
		return
	}
	j.recErr = p.record(ctx, ev)
	j.recorded = j.recErr == nil
	if j.recErr != nil {
		p.log.Error("audit record not written", "event.action", ev.Action, "event.outcome", ev.Outcome,
			"event.reason", ev.Reason, "user.name", ev.Principal, "zapgate.service", ev.Service,
			"zapgate.command", ev.Command, "zapgate.topic", ev.Topic, "error", j.recErr)
	}
}

// event completes the job's audit event and says whether to record it.
func (p *pool) event(s *shard, j *job) (Event, bool) {
	ev := j.ev
	ev.Principal, ev.Source = j.who.UserID, j.who.Address
	ev.Key = s.fingerprint(j.who.Key)
	if j.action.Kind != 0 {
		d := j.decision
		ev.Roles, ev.RuleID, ev.Ruleset, ev.PolicyHash = d.Roles, d.Rule.ID, d.Revision, d.PolicyHash
		switch {
		case j.authErr != nil:
			ev.Outcome, ev.Reason = OutcomeFailure, mdp.ReasonInternal
		case !d.Allow:
			ev.Outcome = OutcomeFailure
			if ev.Reason == "" {
				ev.Reason = mdp.ReasonForbidden
			}
		default:
			ev.Outcome = OutcomeSuccess
		}
	}
	switch j.audit {
	case auditAlways:
		return ev, true
	case auditDeny:
		return ev, ev.Outcome != OutcomeSuccess
	}
	return ev, false
}

func (p *pool) authorize(ctx context.Context, who Peer, a policy.Action) (d policy.Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = policy.Decision{}, fmt.Errorf("broker: authorizer panicked: %v", r)
		}
	}()
	return p.authz.Authorize(ctx, who, a)
}

func (p *pool) record(ctx context.Context, ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("broker: recorder panicked: %v", r)
		}
	}()
	return p.rec.Record(ctx, ev)
}

// fingerprint returns the fingerprint of a Z85 key ("" if it is not one),
// from a small per-shard cache.
func (s *shard) fingerprint(z85 string) string {
	if fp, ok := s.fps[z85]; ok {
		return fp
	}
	fp := ""
	if k, err := certs.ParsePublicKey(z85); err == nil {
		fp = k.Fingerprint()
	}
	if len(s.fps) >= 4096 {
		clear(s.fps)
	}
	s.fps[z85] = fp
	return fp
}
