package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// segmentScan is what reading a segment found.
type segmentScan struct {
	records   int
	firstSeq  uint64
	seq       uint64 // last good record
	hash      string
	good      int64 // offset just after the last good record
	size      int64
	badLine   int // first line that is not a good record (0: none)
	badReason string
	badLines  int
	headHash  string // hash of record headSeq, when read
}

// scanSegment reads a segment, checking each record and the chain inside
// it. Bad lines at the end (a torn tail) are reported in badLine; a good
// record after a bad line means damage that is not a torn write: an error.
func scanSegment(path string, headSeq uint64) (segmentScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return segmentScan{}, fmt.Errorf("audit: open: %w", err)
	}
	defer f.Close()
	return scanLines(f, path, headSeq)
}

// scanLines is scanSegment over a reader; path names it in errors.
func scanLines(r io.Reader, path string, headSeq uint64) (segmentScan, error) {
	var s segmentScan
	lr := newLineReader(r, 0)
	for line := 1; ; line++ {
		raw, complete, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			return s, fmt.Errorf("audit: open: read %s: %w", path, err)
		}
		reason := ""
		var rec Record
		switch {
		case err != nil:
			reason = err.Error()
		case !complete:
			reason = "no newline (write interrupted)"
		default:
			if rec, err = ParseRecord(raw); err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			if s.badLine == 0 {
				s.badLine, s.badReason = line, reason
			}
			s.badLines++
			continue
		}
		// A whole record after a bad line, or one that does not follow,
		// is not what an interrupted write leaves.
		if s.badLine == 0 && s.records > 0 && (rec.Seq != s.seq+1 || rec.PrevHash != s.hash) {
			s.badLine, s.badReason = line, fmt.Sprintf("record %d does not follow record %d", rec.Seq, s.seq)
		}
		if s.badLine != 0 {
			return s, fmt.Errorf("audit: open: %s:%d: %s; the file is damaged before its end (not a torn write): "+
				"run `zapgate audit verify` and move the damaged file aside", path, s.badLine, s.badReason)
		}
		if s.records == 0 {
			s.firstSeq = rec.Seq
		}
		s.records++
		s.seq, s.hash, s.good = rec.Seq, rec.Hash, lr.off
		if rec.Seq == headSeq {
			s.headHash = rec.Hash
		}
	}
	s.size = lr.off
	return s, nil
}

// recover finds where the chain ends, sets aside a torn tail, checks the
// log against its CHECKPOINT file and opens the last segment for
// appending.
func (l *Log) recover() error {
	w := &l.w
	w.hash, w.lastCheckpoint = GenesisHash, l.opts.Now()
	// Temporary files of a CHECKPOINT update a crash interrupted.
	if tmps, _ := filepath.Glob(filepath.Join(l.opts.Dir, ".CHECKPOINT-*")); len(tmps) > 0 {
		for _, p := range tmps {
			_ = os.Remove(p)
		}
	}
	head, err := l.openHead()
	if err != nil {
		return err
	}
	segs, err := Segments(l.opts.Dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		if head != nil {
			return fmt.Errorf("audit: open: %s covers seq %d but the directory has no log files: they were removed", HeadFile, head.Seq)
		}
		return nil // the first write creates the first segment
	}
	last := segs[len(segs)-1]
	st, headHash, err := l.chainEnd(segs, headSeq(head))
	if err != nil {
		return err
	}
	if err := l.checkHead(head, headHash); err != nil {
		return err
	}
	if st.good < st.size {
		if err := l.setAside(last, st); err != nil {
			return err
		}
	}
	f, err := openSegment(last.Path)
	if err != nil {
		return err
	}
	created, _ := time.Parse(segmentTimeLayout, segmentRE.FindStringSubmatch(last.Name)[2])
	w.f, w.name, w.size, w.created = f, last.Name, st.good, created
	return nil
}

// chainEnd scans the last segment (and the one before when the last holds
// no record yet) and sets the writer's chain state to the last good
// record. It returns the last segment's scan and the hash seen at headSeq.
func (l *Log) chainEnd(segs []Segment, headSeq uint64) (segmentScan, string, error) {
	w := &l.w
	last := segs[len(segs)-1]
	st, err := scanSegment(last.Path, headSeq)
	if err != nil {
		return st, "", err
	}
	headHash := st.headHash
	switch {
	case st.records > 0:
		if st.firstSeq != last.FirstSeq {
			return st, "", fmt.Errorf("audit: open: %s starts at seq %d, not %d as its name says", last.Path, st.firstSeq, last.FirstSeq)
		}
		w.seq, w.hash = st.seq, st.hash
	case len(segs) > 1:
		prev, err := scanSegment(segs[len(segs)-2].Path, headSeq)
		if err != nil {
			return st, "", err
		}
		if prev.badLine != 0 {
			return st, "", fmt.Errorf("audit: open: %s:%d: %s", segs[len(segs)-2].Path, prev.badLine, prev.badReason)
		}
		w.seq, w.hash, headHash = prev.seq, prev.hash, prev.headHash
	}
	if st.records == 0 && last.FirstSeq != w.seq+1 {
		return st, "", fmt.Errorf("audit: open: %s should start at seq %d", last.Path, w.seq+1)
	}
	return st, headHash, nil
}

// openHead reads the CHECKPOINT file, if any, and checks its signature
// when it was made with this log's key.
func (l *Log) openHead() (*Record, error) {
	path := filepath.Join(l.opts.Dir, HeadFile)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	head, err := ReadHead(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open: %w; run `zapgate audit verify`", err)
	}
	if l.signer != nil && head.Checkpoint.KeyID == l.signer.keyID {
		if err := verifyCheckpoint(&head, l.signer.priv.Public().(ed25519.PublicKey), ""); err != nil {
			return nil, fmt.Errorf("audit: open: %s: %w", path, err)
		}
	}
	return &head, nil
}

// checkHead refuses a log that ends before its CHECKPOINT record or holds
// a different record at its seq.
func (l *Log) checkHead(head *Record, seen string) error {
	switch {
	case head == nil:
		return nil
	case head.Seq > l.w.seq:
		return fmt.Errorf("audit: open: the log ends at seq %d but %s holds the signed checkpoint record %d: "+
			"records were truncated or files removed; run `zapgate audit verify`, and move the directory aside to start a new log",
			l.w.seq, HeadFile, head.Seq)
	case seen != "" && seen != head.Hash:
		return fmt.Errorf("audit: open: record %d differs from the signed checkpoint in %s; run `zapgate audit verify`", head.Seq, HeadFile)
	}
	return nil
}

func headSeq(head *Record) uint64 {
	if head == nil {
		return 0
	}
	return head.Seq
}

// setAside copies the torn tail of a segment to a new ".torn" file, cuts
// the segment back to its last good record, and queues an
// "audit.recovered" record that says so.
func (l *Log) setAside(seg Segment, st segmentScan) error {
	src, err := os.Open(seg.Path)
	if err != nil {
		return fmt.Errorf("audit: recover: %w", err)
	}
	defer src.Close()
	torn := seg.Path + ".torn"
	for i := 1; ; i++ {
		if _, err := os.Lstat(torn); errors.Is(err, fs.ErrNotExist) {
			break
		}
		torn = fmt.Sprintf("%s.%d.torn", seg.Path, i)
	}
	data, err := io.ReadAll(io.NewSectionReader(src, st.good, st.size-st.good))
	if err != nil {
		return fmt.Errorf("audit: recover: %w", err)
	}
	if err := writeNewFile(torn, data, 0o640); err != nil {
		return fmt.Errorf("audit: recover: %w", err)
	}
	if err := syncDir(l.opts.Dir); err != nil {
		return err
	}
	if err := truncateSync(seg.Path, st.good); err != nil {
		return fmt.Errorf("audit: recover: %w", err)
	}
	reason := fmt.Sprintf("torn tail set aside: %d bytes (%d lines) after record %d, from line %d of %s (%s), moved to %s",
		st.size-st.good, st.badLines, l.w.seq, st.badLine, seg.Name, st.badReason, filepath.Base(torn))
	l.log.Error("audit log recovered from an interrupted write", "file", seg.Path, "torn_bytes", st.size-st.good,
		"moved_to", torn, "last_seq", l.w.seq, "reason", st.badReason)
	now := l.opts.Now()
	id, err := NewEventID(now)
	if err != nil {
		return err
	}
	t := false
	rec := Record{Time: canonicalTime(now), ID: id, Action: ActionRecovered, Outcome: OutcomeFailure,
		Severity: SeverityCritical, Reason: clip(reason, MaxReasonBytes, &t), Truncated: t}
	l.w.prefix = append(l.w.prefix, appendBody(nil, &rec))
	l.ctr.recoveries.Add(1)
	return nil
}

// truncateSync cuts a file to size and makes that durable.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
