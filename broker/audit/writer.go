package audit

import (
	"bytes"
	"os"
	"syscall"
	"time"
)

// writer is the state of the writer goroutine.
type writer struct {
	f       *os.File // nil: a new segment is created before the next write
	name    string
	created time.Time
	size    int64 // bytes of complete, durable records in f
	dirty   bool  // f may hold bytes past size (a rollback failed)

	seq  uint64 // last durable record
	hash string

	sinceCheckpoint uint64 // records written since the last checkpoint
	lastCheckpoint  time.Time

	buf      []byte
	prefix   [][]byte // records to write before the next batch
	out      outage
	closeErr error
}

// maxKeptBuf bounds the write buffer kept between batches.
const maxKeptBuf = 8 << 20

// run is the writer goroutine.
func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(min(l.opts.RetryInterval, l.opts.CheckpointInterval))
	defer t.Stop()
	for {
		select {
		case <-l.kick:
			l.commitQueued()
		case <-t.C:
			l.tick()
		case <-l.stop:
			l.commitQueued()
			l.shutdown()
			return
		}
	}
}

// commitQueued takes every queued record and commits them as one batch.
func (l *Log) commitQueued() {
	l.mu.Lock()
	b := l.cur
	if len(b.bodies) == 0 {
		l.mu.Unlock()
		return
	}
	l.cur = newBatch()
	l.queued -= len(b.bodies)
	l.mu.Unlock()
	l.commit(b)
}

// commit writes the records due first (outage report, recovery record,
// records kept while failing open) and b's records, syncs once, and
// releases b's waiters with their receipts or the error.
func (l *Log) commit(b *batch) {
	w := &l.w
	err := l.prepareFile()
	if err == nil {
		bodies := l.compose(b.bodies)
		var hashes []string
		if hashes, err = l.writeBodies(bodies); err == nil {
			n := len(b.bodies)
			b.hashes = hashes[len(bodies)-n:]
			b.seqs = make([]uint64, n)
			for i := range b.seqs {
				b.seqs[i] = w.seq - uint64(n-1-i)
			}
			w.prefix = nil
			w.sinceCheckpoint += uint64(len(bodies))
			l.ctr.appended.Add(uint64(n))
			if w.out.active {
				l.endOutage()
			}
			l.lastSeq.Store(w.seq)
			l.broadcast()
		}
	}
	if err != nil {
		l.fail(err, b)
	}
	close(b.done)
}

// compose returns the bodies to write: an outage report if the log was
// failing, the prefix, then the batch.
func (l *Log) compose(batch [][]byte) [][]byte {
	w := &l.w
	if !w.out.active && len(w.prefix) == 0 {
		return batch
	}
	var bodies [][]byte
	if w.out.active {
		rec := l.outageRecord(l.opts.Now())
		bodies = append(bodies, appendBody(nil, &rec))
	}
	bodies = append(bodies, w.prefix...)
	return append(bodies, batch...)
}

// writeBodies chains bodies after the last record, writes them with one
// write and one fdatasync, and returns their hashes. On failure the file
// is cut back to its last durable record and the chain state is unchanged.
func (l *Log) writeBodies(bodies [][]byte) ([]string, error) {
	w := &l.w
	if len(bodies) == 0 {
		return nil, nil
	}
	buf := w.buf[:0]
	seq, prev := w.seq, w.hash
	hashes := make([]string, len(bodies))
	for i, body := range bodies {
		seq++
		start := len(buf)
		buf = append(buf, body...)
		buf = appendChain(buf, seq, prev)
		prev = hashPrefix(buf[start:])
		hashes[i] = prev
		buf = appendHash(buf, prev)
		buf = append(buf, '\n')
	}
	if cap(buf) <= maxKeptBuf {
		w.buf = buf
	} else {
		w.buf = nil
	}
	if err := l.writeAll(buf); err != nil {
		l.rollback()
		return nil, err
	}
	if !l.opts.NoSync {
		if err := fdatasync(w.f); err != nil {
			l.rollback()
			return nil, err
		}
		l.ctr.fsyncs.Add(1)
	}
	w.size += int64(len(buf))
	w.seq, w.hash = seq, prev
	l.ctr.batches.Add(1)
	l.ctr.written.Add(uint64(len(bodies)))
	l.ctr.bytes.Add(uint64(len(buf)))
	return hashes, nil
}

// writeAll writes buf to the current file (in pieces, in crash tests).
func (l *Log) writeAll(buf []byte) error {
	f := l.w.f
	for n := l.opts.writeChunk; n > 0 && len(buf) > 0; buf = buf[min(n, len(buf)):] {
		if _, err := f.Write(buf[:min(n, len(buf))]); err != nil {
			return err
		}
		if l.opts.afterChunk != nil {
			l.opts.afterChunk()
		}
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := f.Write(buf)
	return err
}

// rollback cuts the file back to its last durable record after a failed
// write or sync; if even that fails, the next write retries it first.
func (l *Log) rollback() {
	w := &l.w
	if err := w.f.Truncate(w.size); err != nil {
		w.dirty = true
		return
	}
	if !l.opts.NoSync {
		_ = fdatasync(w.f)
	}
}

// fdatasync flushes f's data (and the size, which appends change).
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// prepareFile makes the current file ready for the next write: finishes a
// failed rollback, rotates when due, creates a segment when there is none.
func (l *Log) prepareFile() error {
	w := &l.w
	now := l.opts.Now()
	if w.f != nil && w.dirty {
		if err := w.f.Truncate(w.size); err != nil {
			return err
		}
		w.dirty = false
	}
	if w.f != nil && w.size > 0 && (w.size >= l.opts.RotateBytes || now.Sub(w.created) >= l.opts.RotateAge) {
		if err := l.rotate(now); err != nil {
			return err
		}
	}
	if w.f == nil {
		f, name, err := createSegment(l.opts.Dir, w.seq+1, now)
		if err != nil {
			return err
		}
		w.f, w.name, w.created, w.size = f, name, now, 0
	}
	return nil
}

// rotate seals the current file with a checkpoint and closes it; the next
// write creates the next segment.
func (l *Log) rotate(now time.Time) error {
	w := &l.w
	if l.signer != nil {
		if err := l.writeCheckpoint(checkpointRotate, now); err != nil {
			return err
		}
	}
	if err := w.f.Close(); err != nil {
		l.log.Warn("closing rotated audit file", "file", w.name, "err", err)
	}
	l.log.Info("audit log rotated", "file", w.name, "bytes", w.size, "last_seq", w.seq)
	w.f = nil
	l.ctr.rotations.Add(1)
	return nil
}

// writeCheckpoint writes a signed checkpoint covering the last record,
// then copies it to the CHECKPOINT file.
func (l *Log) writeCheckpoint(reason string, now time.Time) error {
	w := &l.w
	rec, err := l.signer.checkpoint(w.seq, w.hash, w.name, reason, now)
	if err != nil {
		return err
	}
	if _, err := l.writeBodies([][]byte{appendBody(nil, &rec)}); err != nil {
		return err
	}
	line := bytes.Clone(w.buf[:len(w.buf)-1])
	w.sinceCheckpoint, w.lastCheckpoint = 0, now
	l.ctr.checkpoints.Add(1)
	l.lastSeq.Store(w.seq)
	l.broadcast()
	if err := writeHead(l.opts.Dir, line); err != nil {
		l.ctr.headErrors.Add(1)
		l.log.Error("cannot update the CHECKPOINT file; verify will report it as stale", "err", err)
	}
	return nil
}

// tick runs periodically: retries a failing log, writes periodic
// checkpoints.
func (l *Log) tick() {
	w := &l.w
	now := l.opts.Now()
	if w.out.active {
		if now.Sub(w.out.lastTry) >= l.opts.RetryInterval {
			l.commit(newBatch())
		}
		return
	}
	if l.signer == nil || w.sinceCheckpoint == 0 || now.Sub(w.lastCheckpoint) < l.opts.CheckpointInterval {
		return
	}
	err := l.prepareFile()
	if err == nil && w.sinceCheckpoint > 0 {
		err = l.writeCheckpoint(checkpointPeriodic, now)
	}
	if err != nil {
		l.fail(err, nil)
	}
}

// shutdown writes the final checkpoint and closes the file.
func (l *Log) shutdown() {
	w := &l.w
	if w.out.active || len(w.prefix) > 0 {
		l.commit(newBatch())
	}
	if w.out.active {
		w.closeErr = l.closeFailure()
	} else if l.signer != nil && w.sinceCheckpoint > 0 {
		err := l.prepareFile()
		if err == nil {
			err = l.writeCheckpoint(checkpointClose, l.opts.Now())
		}
		if err != nil {
			w.closeErr = l.appendError(err)
		}
	}
	if w.f != nil {
		if err := w.f.Close(); err != nil && w.closeErr == nil {
			w.closeErr = err
		}
		w.f = nil
	}
	l.setHealthClosed()
}
