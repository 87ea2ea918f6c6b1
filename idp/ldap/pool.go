package ldap

import (
	"context"
	"errors"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// pool keeps up to cfg.PoolSize bound connections. A connection idle longer
// than cfg.HealthCheckAfter is checked with a root DSE read before reuse; a failed
// check or a network error discards it, and the next get reconnects (with
// failover).
type pool struct {
	cfg Config

	mu     sync.Mutex
	idle   []*pconn
	closed bool
}

var errClosed = errors.New("ldap: directory closed")

func newPool(cfg Config) *pool {
	return &pool{cfg: cfg}
}

// get returns an idle healthy connection or dials a new one.
func (p *pool) get(ctx context.Context) (*pconn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errClosed
		}
		var pc *pconn
		if n := len(p.idle); n > 0 {
			pc = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if pc == nil {
			return dialAny(ctx, p.cfg)
		}
		if p.healthy(ctx, pc) {
			pc.pooled = true
			return pc, nil
		}
		pc.c.Close()
	}
}

// healthy checks a pooled connection; recently used ones are trusted.
func (p *pool) healthy(ctx context.Context, pc *pconn) bool {
	if pc.c.IsClosing() {
		return false
	}
	if time.Since(pc.lastUsed) < p.cfg.HealthCheckAfter {
		return true
	}
	stop := context.AfterFunc(ctx, func() { pc.c.Close() })
	req := goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, int(p.cfg.Timeout/time.Second), false, "(objectClass=*)", []string{"1.1"}, nil)
	_, err := pc.c.Search(req)
	return stop() && err == nil
}

// put returns pc to the pool if it is still usable after err.
func (p *pool) put(pc *pconn, err error) {
	if !reusable(pc, err) {
		pc.c.Close()
		return
	}
	pc.lastUsed = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.cfg.PoolSize {
		pc.c.Close()
		return
	}
	p.idle = append(p.idle, pc)
}

// close closes every idle connection; connections in use are closed when
// they are put back.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, pc := range p.idle {
		pc.c.Close()
	}
	p.idle = nil
}
