package broker

import (
	"encoding/binary"
	"time"
)

// state is the loop's view of peers, services and subscriptions. Only
// the loop goroutine touches it.
type state struct {
	peers    map[string]*peerState // by routing id
	services map[string]*service
	workers  map[*worker]struct{}
	subs     map[*peerState]struct{} // peers with subscriptions
	foreign  map[string]struct{}     // routing ids already audited as not minted
	jobs     int                     // jobs in flight, broker-wide
	held     int64                   // message bytes held, broker-wide (limits.go)
	nextID   uint64
	beatAt   time.Time // next heartbeat to workers
	draining bool
	drainEnd time.Time
}

func (st *state) init() {
	st.peers = map[string]*peerState{}
	st.services = map[string]*service{}
	st.workers = map[*worker]struct{}{}
	st.subs = map[*peerState]struct{}{}
	st.foreign = map[string]struct{}{}
}

func (st *state) newID() uint64 {
	st.nextID++
	return st.nextID
}

// peerState is what the loop knows of one connection, by its routing id:
// its identity and what it holds. Routing ids are minted by the ZAP
// handler for one connection's key and User-Id and verified on every
// message (Broker.minted), so a later connection never finds this state.
// As a second line, a message on a known routing id with another User-Id
// or key retires the old state (its worker removed, its subscriptions
// dropped, replies for it discarded).
type peerState struct {
	rid     string
	who     Peer
	shard   int
	retired bool
	jobs    int // jobs in flight for this peer
	pending int // client requests not yet answered
	worker  *worker
	sub     *subscriber

	held int64 // message bytes held for this peer (limits.go)
}

// workerState is where a worker is in its life.
type workerState uint8

const (
	registering workerState = iota // READY being authorized
	idle                           // waiting for a request
	dispatching                    // given a request, being authorized before it is sent
	busy                           // holding a request
	replying                       // its REPLY being authorized
)

// worker is a registered (or registering) MDP worker.
type worker struct {
	peer     *peerState
	service  string
	svc      *service // set once registered
	state    workerState
	lastSeen time.Time
	authAt   time.Time // last successful authorization
	checking bool      // a re-check is in flight
	req      *request  // dispatching, busy or replying
	removed  bool
}

// service is a service name with its waiting requests and idle workers.
type service struct {
	name    string
	queue   []*request
	idle    []*worker // longest-idle first
	workers int       // registered workers
}

// request is one client request from authorization to its answer.
type request struct {
	id       uint64
	client   *peerState
	service  string
	command  string
	body     [][]byte // command first
	deadline time.Time
	worker   *worker
	answered bool
	held     int64 // bytes of body counted in client.held until dispatched or finished
}

// token is the request's address in REQUEST/REPLY: an opaque id the
// broker chose, not the client's routing id.
func (r *request) token() []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), r.id)
}

// subscriber holds a peer's subscription patterns and recent delivery
// decisions.
type subscriber struct {
	patterns []string
	allowed  map[string]time.Time // topic → trusted until
	checks   int                  // delivery checks in flight
}

func (s *subscriber) matching(topic string, match func(p, t string) bool) bool {
	for _, p := range s.patterns {
		if match(p, topic) {
			return true
		}
	}
	return false
}

// peerFor returns the state for a message from rid with identity who,
// retiring a state left by another identity.
func (b *Broker) peerFor(rid string, who Peer) *peerState {
	p := b.st.peers[rid]
	if p != nil && (p.who.UserID != who.UserID || p.who.Key != who.Key) {
		b.log.Warn("routing id reused by another identity; forgetting the old peer",
			"user.name", who.UserID, "previous", p.who.UserID)
		b.retire(p)
		p = nil
	}
	if p == nil {
		p = &peerState{rid: rid, who: who, shard: b.pool.shardOf(rid)}
		b.st.peers[rid] = p
	}
	return p
}

// retire forgets a peer whose routing id now belongs to someone else (or
// whose connection is gone): nothing is sent to the routing id for it.
func (b *Broker) retire(p *peerState) {
	p.retired = true
	if b.st.peers[p.rid] == p {
		delete(b.st.peers, p.rid)
	}
	if p.worker != nil {
		b.removeWorker(p.worker, false, "peer retired")
	}
	if p.sub != nil {
		p.sub = nil
		delete(b.st.subs, p)
	}
}

// maybeForget drops a peer's state once it holds nothing.
func (b *Broker) maybeForget(p *peerState) {
	if p.jobs == 0 && p.pending == 0 && p.worker == nil && p.sub == nil && b.st.peers[p.rid] == p {
		delete(b.st.peers, p.rid)
	}
}

// service returns the named service, creating it.
func (b *Broker) service(name string) *service {
	s := b.st.services[name]
	if s == nil {
		s = &service{name: name}
		b.st.services[name] = s
	}
	return s
}

// maybeDropService forgets a service without workers or waiting requests.
func (b *Broker) maybeDropService(s *service) {
	if s.workers == 0 && len(s.queue) == 0 && b.st.services[s.name] == s {
		delete(b.st.services, s.name)
	}
}
