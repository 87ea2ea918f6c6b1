package syslog

import (
	"context"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
)

// inflight is a record sent on the current connection, not yet confirmed.
type inflight struct {
	seq   uint64
	hash  string
	id    string
	end   int64     // socket byte count once the flush that carried it was done
	acked time.Time // when the receiver had acknowledged all of it
}

// item is what the follower goroutine hands over.
type item struct {
	e   audit.Entry
	err error
}

// maxBurst bounds the messages sent before one flush.
const maxBurst = 512

// settleTick is how often acknowledgements are checked.
const settleTick = 50 * time.Millisecond

// session forwards records on one connection until it fails or ctx ends.
// It reports whether the cursor moved.
func (f *Forwarder) session(ctx context.Context, c *conn) (progress bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &sender{f: f, c: c, start: f.Cursor()}
	s.sent = s.start.Seq
	items := f.follow(sctx, s.start)
	tick := time.NewTicker(settleTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			f.drain(c, s.fly)
			return progress, nil
		case <-c.dead:
			return progress, c.reason()
		case <-tick.C:
			if f.settle(c, &s.fly, false) {
				progress = true
				f.progressed()
			}
			if s.broken != nil && len(s.fly) == 0 {
				return progress, s.broken
			}
		case it := <-items:
			if err := s.burst(it, items); err != nil {
				return progress, err
			}
		}
	}
}

// sender is the sending side of one session.
type sender struct {
	f       *Forwarder
	c       *conn
	start   Cursor
	started bool
	fly     []inflight
	buf     []byte
	sent    uint64 // seq of the last record sent
	broken  error  // the log could not be read further; set once
}

// burst sends it and whatever else is ready (up to maxBurst), then
// flushes once. A read error from the log stops the burst; what was sent
// before it is still confirmed before the session ends (see session).
func (s *sender) burst(it item, items <-chan item) error {
	for n := 1; ; n++ {
		if it.err != nil {
			s.f.log.Error("audit log unreadable; forwarding stops there", "after", s.sent, "err", it.err)
			s.broken = it.err
			break
		}
		r := &it.e.Record
		if !s.started && s.start.Seq > 0 && r.Seq > s.start.Seq+1 {
			s.f.log.Warn("records no longer in the log directory were never forwarded", "from", s.start.Seq+1, "to", r.Seq-1)
		}
		s.started = true
		s.buf = AppendMessage(s.buf[:0], &s.f.opts.Header, &it.e)
		if err := s.c.send(s.buf); err != nil {
			return err
		}
		s.f.sent.Add(1)
		s.fly = append(s.fly, inflight{seq: r.Seq, hash: r.Hash, id: r.ID, end: -1})
		s.sent = r.Seq
		if n >= maxBurst || len(items) == 0 {
			break
		}
		it = <-items
	}
	end, err := s.c.flush(s.f.opts.WriteTimeout)
	if err != nil {
		return err
	}
	for i := len(s.fly) - 1; i >= 0 && s.fly[i].end < 0; i-- {
		s.fly[i].end = end
	}
	return nil
}

// follow reads records after the cursor in a goroutine until ctx ends.
func (f *Forwarder) follow(ctx context.Context, from Cursor) <-chan item {
	ch := make(chan item, maxBurst)
	go func() {
		fl := audit.NewFollower(f.opts.Dir, audit.FollowOptions{From: from.Seq + 1, PrevHash: from.Hash, Source: f.opts.Source})
		defer fl.Close()
		for {
			e, err := fl.Next(ctx)
			if ctx.Err() != nil {
				return
			}
			select {
			case ch <- item{e: e, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// settle marks records the receiver acknowledged and moves the cursor past
// those acknowledged at least Settle ago (all acknowledged ones when
// final). It reports whether the cursor moved.
func (f *Forwarder) settle(c *conn, fly *[]inflight, final bool) bool {
	now := time.Now()
	acked, ok := c.acked()
	for i := range *fly {
		r := &(*fly)[i]
		if r.end < 0 || (ok && r.end > acked) {
			break
		}
		if r.acked.IsZero() {
			r.acked = now
		}
	}
	k := 0
	for k < len(*fly) && !(*fly)[k].acked.IsZero() && (final || now.Sub((*fly)[k].acked) >= f.opts.Settle) {
		k++
	}
	if k == 0 {
		return false
	}
	last := (*fly)[k-1]
	f.advance(Cursor{Seq: last.seq, Hash: last.hash, ID: last.id}, k)
	*fly = (*fly)[k:]
	return true
}

// advance moves the cursor and writes the cursor file.
func (f *Forwarder) advance(c Cursor, n int) {
	f.mu.Lock()
	f.cursor = c
	f.mu.Unlock()
	f.forwarded.Add(uint64(n))
	if err := WriteCursor(f.opts.CursorFile, c); err != nil {
		f.errors.Add(1)
		f.log.Error("cannot write the syslog cursor; a restart will send some records again", "err", err)
	}
}

// drain, at shutdown, waits briefly for the receiver to acknowledge what
// was sent, then moves the cursor past everything acknowledged.
func (f *Forwarder) drain(c *conn, fly []inflight) {
	deadline := time.Now().Add(2 * time.Second)
	for len(fly) > 0 && time.Now().Before(deadline) {
		if acked, ok := c.acked(); !ok || fly[len(fly)-1].end >= 0 && acked >= fly[len(fly)-1].end {
			break
		}
		select {
		case <-c.dead:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	f.settle(c, &fly, true)
}
