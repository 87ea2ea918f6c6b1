package audit

import (
	"fmt"
	"path/filepath"
)

// chain checks that records follow each other: sequence numbers without
// gaps and each "audit.prev_hash" equal to the previous "audit.hash",
// across files.
type chain struct {
	partial bool
	started bool
	seq     uint64
	hash    string
	// fileFirst is the first seq the current file's name promises (0 when
	// the name does not say), checked against its first record.
	fileFirst uint64
	fileStart bool
}

// startFile is called before the first record of a file.
func (c *chain) startFile(path string) {
	c.fileFirst, _ = parseSegmentName(filepath.Base(path))
	c.fileStart = true
}

// link checks rec against the chain so far and advances it; it returns a
// reason when rec does not follow.
func (c *chain) link(rec *Record) string {
	first := c.fileStart
	c.fileStart = false
	if first && c.fileFirst != 0 && rec.Seq != c.fileFirst {
		return fmt.Sprintf("file name says its first record is seq %d, but it is seq %d (file renamed or records removed)", c.fileFirst, rec.Seq)
	}
	if !c.started {
		c.started = true
		switch {
		case rec.Seq == 1 && rec.PrevHash != GenesisHash:
			return "record 1 does not start from the genesis hash"
		case rec.Seq != 1 && !c.partial:
			return fmt.Sprintf("the chain starts at seq %d, not 1: earlier records or files are missing (use --partial for an archived log)", rec.Seq)
		}
		c.seq, c.hash = rec.Seq, rec.Hash
		return ""
	}
	switch {
	case rec.Seq > c.seq+1 && first:
		return fmt.Sprintf("%s missing before this file (a file was removed?)", span(c.seq+1, rec.Seq-1))
	case rec.Seq > c.seq+1:
		return fmt.Sprintf("%s missing (lines removed?)", span(c.seq+1, rec.Seq-1))
	case rec.Seq <= c.seq:
		return fmt.Sprintf("seq %d after seq %d: records repeated or reordered", rec.Seq, c.seq)
	case rec.PrevHash != c.hash:
		return fmt.Sprintf("audit.prev_hash does not match the hash of record %d: a record was altered, removed or inserted", c.seq)
	}
	c.seq, c.hash = rec.Seq, rec.Hash
	return ""
}

// span names the records from a to b.
func span(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("record %d is", a)
	}
	return fmt.Sprintf("records %d to %d are", a, b)
}
