package broker

import (
	"fmt"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
)

const (
	// closeLinger lets the last replies and DISCONNECTs leave on close.
	closeLinger = 250 * time.Millisecond
	// readBatch bounds the messages read before results and timers are
	// looked at again.
	readBatch = 256
)

// loop is Run's body: it waits for messages, finished jobs and timers,
// and stops when asked (after draining) or when the socket fails.
func (b *Broker) loop() error {
	var spare []*job
	now := time.Now()
	b.st.beatAt = now.Add(b.cfg.Heartbeat)
	nextTick := now
	for {
		if err := b.waiter.Wait(nextTick); err != nil {
			return fmt.Errorf("broker: wait: %w", err)
		}
		now = time.Now()
		if err := b.readAll(now); err != nil {
			return err
		}
		spare = b.applyResults(spare)
		b.applyCuts()
		if b.zapLost.Load() {
			return nil
		}
		if b.stop.Load() && !b.st.draining {
			b.startDrain(now)
		}
		if !now.Before(nextTick) {
			b.tick(now)
			nextTick = now.Add(b.cfg.tick())
		}
		if b.st.draining && b.drained(now) {
			b.finishDrain()
			return nil
		}
	}
}

// readAll receives up to readBatch messages without blocking.
func (b *Broker) readAll(now time.Time) error {
	for range readBatch {
		rid, err := b.sock.RecvBytes(zmq.DONTWAIT)
		if err != nil {
			if isAgain(err) {
				return nil
			}
			return fmt.Errorf("broker: receive: %w", err)
		}
		if more, _ := b.sock.GetRcvmore(); !more {
			continue // a routing id alone: nothing to read metadata from
		}
		in, err := b.readMessage()
		if err != nil {
			return err
		}
		b.stats.received.Add(1)
		b.handle(string(rid), in, now)
	}
	return nil
}

// handle routes one message.
func (b *Broker) handle(rid string, in inbound, now time.Time) {
	who, frames := in.who, in.frames
	if who.UserID == "" {
		b.dropUnauthenticated(rid, who)
		return
	}
	if !b.minted(rid, frames, who) {
		return
	}
	if _, _, out := b.cfg.Offenders.ShutOut(who.Key); out {
		b.refuseShutOut(b.peerFor(rid, who), frames)
		return
	}
	p := b.peerFor(rid, who)
	if in.over {
		b.tooLarge(p, in)
		return
	}
	if w := p.worker; w != nil {
		w.lastSeen = now
	}
	msg, err := mdp.Parse(frames)
	if err != nil {
		b.malformed(p, frames, err)
		return
	}
	if p.jobs >= b.cfg.MaxInflight {
		b.overloaded(p, msg)
		return
	}
	if msg.Header == mdp.WorkerHeader {
		b.fromWorker(p, msg, now)
		return
	}
	b.fromClient(p, msg, now)
}

// submit hands a job to the pool; its done runs on the loop later.
func (b *Broker) submit(p *peerState, j *job) {
	j.peer = p
	j.who = p.who
	p.jobs++
	b.st.jobs++
	b.pool.submit(p.shard, j)
}

// applyResults runs the done functions of finished jobs.
func (b *Broker) applyResults(spare []*job) []*job {
	for {
		batch := b.box.take(spare)
		if len(batch) == 0 {
			return batch
		}
		for i, j := range batch {
			b.st.jobs--
			j.peer.jobs--
			if j.done != nil {
				j.done(j)
			}
			b.maybeForget(j.peer)
			batch[i] = nil
		}
		spare = batch
	}
}

// tick runs the timers: heartbeats, worker expiry and re-checks, request
// deadlines.
func (b *Broker) tick(now time.Time) {
	beat := !now.Before(b.st.beatAt)
	if beat {
		b.st.beatAt = now.Add(b.cfg.Heartbeat)
	}
	for w := range b.st.workers {
		b.tickWorker(w, now, beat)
	}
	for _, s := range b.st.services {
		b.expireRequests(s, now)
	}
}

// startDrain refuses new work from now on and answers queued requests.
func (b *Broker) startDrain(now time.Time) {
	b.st.draining = true
	b.st.drainEnd = now.Add(b.cfg.DrainTimeout)
	b.log.Info("draining", "jobs", b.st.jobs, "workers", len(b.st.workers), "timeout", b.cfg.DrainTimeout)
	for _, s := range b.st.services {
		for _, r := range s.queue {
			b.answerRefusal(r, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonShuttingDown, Detail: "the broker is shutting down"})
		}
		s.queue = nil
	}
}

// drained reports whether nothing is in flight any more, or the drain
// timed out.
func (b *Broker) drained(now time.Time) bool {
	if !now.Before(b.st.drainEnd) {
		b.log.Warn("drain timed out", "jobs", b.st.jobs)
		return true
	}
	if b.st.jobs > 0 {
		return false
	}
	for w := range b.st.workers {
		if w.state == busy || w.state == replying {
			return false
		}
	}
	return true
}

// finishDrain answers what is still open, disconnects the workers and
// tells subscribers their subscriptions end.
func (b *Broker) finishDrain() {
	for w := range b.st.workers {
		b.removeWorker(w, true, "broker shutting down")
	}
	for p := range b.st.subs {
		b.endSubscriptions(p, p.sub.patterns, mdp.Refusal{Code: mdp.CodeUnavailable, Reason: mdp.ReasonShuttingDown})
	}
}

func isAgain(err error) bool {
	return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}

func isUnreachable(err error) bool {
	return zmq.AsErrno(err) == zmq.EHOSTUNREACH
}
