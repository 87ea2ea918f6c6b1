package audit

import (
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"time"
)

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Key verifies checkpoint signatures; nil checks their structure only.
	Key ed25519.PublicKey
	// Head is the CHECKPOINT file to check the log against; "" for none.
	Head string
	// Dir is the log directory when a whole directory is verified: its
	// CHECKPOINT file is then required once the log has checkpoints.
	Dir string
	// Partial accepts a chain that starts after record 1.
	Partial bool
}

// VerifyResult summarises a log that verified.
type VerifyResult struct {
	// Files is the number of files read.
	Files int
	// Records is the number of records, checkpoints included.
	Records uint64
	// FirstSeq and LastSeq are the first and last sequence numbers.
	FirstSeq, LastSeq uint64
	// LastHash is the hash of the last record.
	LastHash string
	// Checkpoints is the number of checkpoint records.
	Checkpoints int
	// SignaturesChecked tells whether checkpoint signatures were verified.
	SignaturesChecked bool
	// LastCheckpoint is the seq of the last checkpoint record (0: none).
	LastCheckpoint uint64
	// HeadSeq is the seq of the CHECKPOINT file's record (0: not checked).
	HeadSeq uint64
	// HeadTime is when that checkpoint was written: a CHECKPOINT much
	// older than the log's last activity may have been put back by
	// someone who truncated the log (compare with the forwarded copies).
	HeadTime time.Time
	// Notes are observations that do not fail verification.
	Notes []string
}

// Verify checks files (in chain order, see ResolvePaths): every record
// (ParseRecord), the chain, every checkpoint (signature with opts.Key, the
// seq and hash it covers, the file it names) and the CHECKPOINT file: the
// log must contain its record unchanged, so a log truncated before it, or
// missing its last files, fails. The first problem is returned as a
// *ChainError naming the file and line.
func Verify(files []string, opts VerifyOptions) (VerifyResult, error) {
	res := VerifyResult{Files: len(files), SignaturesChecked: opts.Key != nil}
	if len(files) == 0 {
		return res, fmt.Errorf("audit: verify: no audit files")
	}
	var head *Record
	if opts.Head != "" {
		h, err := ReadHead(opts.Head)
		if err != nil {
			return res, &ChainError{File: opts.Head, Reason: err.Error(), Err: err}
		}
		if err := verifyCheckpoint(&h, opts.Key, ""); err != nil {
			return res, &ChainError{File: opts.Head, Line: 1, Reason: err.Error(), Err: err}
		}
		head = &h
	}
	headSeen := false
	onTorn := func(file string, line int) {
		res.Notes = append(res.Notes, fmt.Sprintf("%s:%d: last line incomplete: being written, or cut by a crash (the broker sets it aside when it starts)", file, line))
	}
	err := Scan(files, ScanOptions{Partial: opts.Partial, OnTornTail: onTorn}, func(e *Entry) error {
		r := &e.Record
		if res.Records == 0 {
			res.FirstSeq = r.Seq
		}
		res.Records++
		res.LastSeq, res.LastHash = r.Seq, r.Hash
		if r.Checkpoint != nil {
			if err := verifyCheckpoint(r, opts.Key, filepath.Base(e.File)); err != nil {
				return &ChainError{File: e.File, Line: e.LineNo, Reason: err.Error(), Err: err}
			}
			res.Checkpoints++
			res.LastCheckpoint = r.Seq
		}
		if head != nil && r.Seq == head.Seq {
			headSeen = true
			if r.Hash != head.Hash {
				return &ChainError{File: e.File, Line: e.LineNo, Reason: fmt.Sprintf(
					"record %d differs from the signed checkpoint in %s", r.Seq, opts.Head)}
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if opts.Key != nil && res.Checkpoints == 0 {
		return res, &ChainError{File: files[len(files)-1], Reason: "no signed checkpoint in the log: with a checkpoint key the broker " +
			"writes one every checkpoint_interval and at shutdown, so the log was truncated before its first one, or written without a key"}
	}
	return res, res.finish(head, headSeen, opts)
}

// finish applies the checks that need the whole log and adds the notes.
func (res *VerifyResult) finish(head *Record, headSeen bool, opts VerifyOptions) error {
	switch {
	case head != nil && head.Seq > res.LastSeq:
		return &ChainError{File: opts.Head, Line: 1, Reason: fmt.Sprintf(
			"the log ends at seq %d, but the signed checkpoint is record %d: records after seq %d were truncated or the newest file removed",
			res.LastSeq, head.Seq, res.LastSeq)}
	case head != nil && !headSeen:
		res.Notes = append(res.Notes, fmt.Sprintf("the CHECKPOINT record %d is older than the first record read; it was not checked", head.Seq))
	case head != nil:
		res.HeadSeq, res.HeadTime = head.Seq, head.Time
	case opts.Dir != "" && res.Checkpoints > 0:
		return &ChainError{File: filepath.Join(opts.Dir, HeadFile), Reason: fmt.Sprintf(
			"missing: the log has %d checkpoints but no %s file; it was deleted, and the newest records may be too", res.Checkpoints, HeadFile)}
	case res.Checkpoints > 0:
		res.Notes = append(res.Notes, "no CHECKPOINT file given: records removed after the last checkpoint in these files would not be detected")
	}
	if res.Checkpoints == 0 {
		res.Notes = append(res.Notes, "no checkpoint: truncation of the tail cannot be detected (configure audit.checkpoint_key)")
	} else if !res.SignaturesChecked {
		res.Notes = append(res.Notes, fmt.Sprintf("%d checkpoint signatures not checked: no public key given", res.Checkpoints))
	}
	if res.Checkpoints > 0 && res.LastSeq > res.LastCheckpoint {
		res.Notes = append(res.Notes, fmt.Sprintf("%d records after the last checkpoint are not signed yet (normal for a running log or after a crash)",
			res.LastSeq-res.LastCheckpoint))
	}
	if head != nil && headSeen && head.Seq < res.LastCheckpoint {
		res.Notes = append(res.Notes, fmt.Sprintf("CHECKPOINT holds record %d; a later checkpoint (record %d) exists", head.Seq, res.LastCheckpoint))
	}
	if res.FirstSeq > 1 {
		res.Notes = append(res.Notes, fmt.Sprintf("partial log: starts at seq %d", res.FirstSeq))
	}
	return nil
}
