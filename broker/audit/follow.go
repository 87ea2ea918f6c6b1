package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Source is a live log a Follower reads behind: Log implements it.
type Source interface {
	// LastSeq is the last durable record.
	LastSeq() uint64
	// Committed is closed at the next commit.
	Committed() <-chan struct{}
}

// FollowOptions tunes a Follower.
type FollowOptions struct {
	// From is the first sequence number wanted (0: from the oldest
	// record). If the files holding it are gone, reading starts at the
	// oldest record there is (its Seq tells the gap).
	From uint64
	// PrevHash, if set, is the hash record From-1 must have (a cursor's);
	// a different record there means the log was replaced: Next fails.
	PrevHash string
	// Source, if set, limits reading to durable records (never one a
	// failed write may still take back) and wakes the Follower on commit.
	Source Source
	// Poll is how often to look for new data without a Source signal
	// (default 200ms).
	Poll time.Duration
}

// Follower reads a log directory's records in order as they are written,
// across rotations, checking each record and the chain.
type Follower struct {
	dir      string
	opts     FollowOptions
	next     uint64 // seq wanted next (0: any)
	last     uint64 // seq of the last record read (0: none yet)
	lastHash string
	gapOK    bool // the first record may be after next (files removed)
	held     bool // the last read stopped at a record that is not durable yet

	f      *os.File
	seg    Segment
	off    int64 // offset of the next unread line in f
	lr     *lineReader
	lineNo int
}

// NewFollower returns a Follower of dir. Close it when done.
func NewFollower(dir string, opts FollowOptions) *Follower {
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	return &Follower{dir: dir, opts: opts, next: opts.From}
}

// Close closes the current file.
func (fl *Follower) Close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f, fl.lr = nil, nil
	return err
}

// Next returns the next record, waiting for it until ctx ends. Entry.Line
// is a copy the caller may keep. A damaged or broken chain is returned as
// a *ChainError.
func (fl *Follower) Next(ctx context.Context) (Entry, error) {
	for {
		var wake <-chan struct{}
		if fl.opts.Source != nil {
			wake = fl.opts.Source.Committed()
		}
		e, ok, err := fl.step()
		if err != nil || ok {
			return e, err
		}
		t := time.NewTimer(fl.opts.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return Entry{}, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// step returns the next record if one is available now.
func (fl *Follower) step() (Entry, bool, error) {
	for {
		if fl.f == nil {
			found, err := fl.open()
			if err != nil || !found {
				return Entry{}, false, err
			}
		}
		e, ok, err := fl.read()
		if err != nil {
			return Entry{}, false, err
		}
		if ok {
			if e.Record.Seq < fl.next {
				continue
			}
			fl.next = e.Record.Seq + 1
			return e, true, nil
		}
		if fl.held {
			return Entry{}, false, nil
		}
		moved, err := fl.advance()
		if err != nil || !moved {
			return Entry{}, false, err
		}
	}
}

// open opens the segment that holds record next, or the oldest one.
func (fl *Follower) open() (bool, error) {
	segs, err := Segments(fl.dir)
	if err != nil || len(segs) == 0 {
		return false, err
	}
	seg := segs[0]
	for _, s := range segs {
		if s.FirstSeq <= fl.next {
			seg = s
		}
	}
	fl.gapOK = seg.FirstSeq > fl.next && fl.next > 0
	return true, fl.openSeg(seg)
}

func (fl *Follower) openSeg(seg Segment) error {
	f, err := os.Open(seg.Path)
	if err != nil {
		return fmt.Errorf("audit: follow: %w", err)
	}
	fl.f, fl.seg, fl.off, fl.lr, fl.lineNo = f, seg, 0, nil, 0
	return nil
}

// read returns the next complete line's record, or ok false at the end of
// what is available (a partial line is left for later).
func (fl *Follower) read() (Entry, bool, error) {
	fl.held = false
	if fl.lr == nil {
		if _, err := fl.f.Seek(fl.off, io.SeekStart); err != nil {
			return Entry{}, false, fmt.Errorf("audit: follow: %w", err)
		}
		fl.lr = newLineReader(fl.f, fl.off)
	}
	line, complete, err := fl.lr.next()
	if errors.Is(err, io.EOF) || (err == nil && !complete) {
		fl.lr = nil
		return Entry{}, false, nil
	}
	where := &ChainError{File: fl.seg.Path, Line: fl.lineNo + 1}
	if err != nil {
		where.Reason, where.Err = err.Error(), err
		return Entry{}, false, where
	}
	rec, err := ParseRecord(line)
	if err != nil {
		where.Reason, where.Err = err.Error(), err
		return Entry{}, false, where
	}
	if src := fl.opts.Source; src != nil && rec.Seq > src.LastSeq() {
		fl.lr, fl.held = nil, true // not durable yet: read it again later
		return Entry{}, false, nil
	}
	if reason := fl.link(&rec); reason != "" {
		where.Reason = reason
		return Entry{}, false, where
	}
	fl.off = fl.lr.off
	fl.lineNo++
	return Entry{Record: rec, Line: append([]byte(nil), line...), File: fl.seg.Path, LineNo: fl.lineNo}, true, nil
}

// link checks rec against the records read before it (and the cursor's
// hash) and advances the chain.
func (fl *Follower) link(rec *Record) string {
	cursor := fl.opts.PrevHash
	switch {
	case fl.last != 0 && (rec.Seq != fl.last+1 || rec.PrevHash != fl.lastHash):
		return fmt.Sprintf("record %d does not follow record %d", rec.Seq, fl.last)
	case cursor != "" && fl.next > 1 && rec.Seq == fl.next-1 && rec.Hash != cursor,
		cursor != "" && fl.last == 0 && rec.Seq == fl.next && rec.PrevHash != cursor:
		return fmt.Sprintf("record %d is not the one the cursor names (hash differs): the log was replaced", fl.next-1)
	case fl.last == 0 && fl.next > 0 && rec.Seq > fl.next && !fl.gapOK:
		return fmt.Sprintf("record %d found where %d was expected", rec.Seq, fl.next)
	}
	fl.last, fl.lastHash = rec.Seq, rec.Hash
	return ""
}

// advance moves to the next segment once the current one is complete: a
// newer segment exists and the current file has nothing more to read
// (checked again after listing, since the writer finishes a file before
// it creates the next).
func (fl *Follower) advance() (bool, error) {
	if fi, err := fl.f.Stat(); err == nil && fi.Size() < fl.off {
		return false, &ChainError{File: fl.seg.Path, Line: fl.lineNo, Reason: "the file shrank below records already read"}
	}
	segs, err := Segments(fl.dir)
	if err != nil {
		return false, err
	}
	var nextSeg *Segment
	for i := range segs {
		if segs[i].FirstSeq > fl.seg.FirstSeq {
			nextSeg = &segs[i]
			break
		}
	}
	if nextSeg == nil {
		return false, nil
	}
	fi, err := fl.f.Stat()
	if err != nil {
		return false, fmt.Errorf("audit: follow: %w", err)
	}
	if fi.Size() > fl.off {
		if ok, err := fl.peek(); err != nil || ok {
			return ok, err
		}
		return false, &ChainError{File: fl.seg.Path, Line: fl.lineNo + 1, Reason: "torn line at the end of a file that is no longer written"}
	}
	_ = fl.f.Close()
	return true, fl.openSeg(*nextSeg)
}

// peek reports whether the current file holds another complete line.
func (fl *Follower) peek() (bool, error) {
	fl.lr = nil
	if _, err := fl.f.Seek(fl.off, io.SeekStart); err != nil {
		return false, fmt.Errorf("audit: follow: %w", err)
	}
	_, complete, err := newLineReader(fl.f, fl.off).next()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	return complete || err != nil, nil
}
