package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// HeadFile is the name, in the log directory, of the file that holds a copy
// of the latest checkpoint record (one line). It is replaced atomically
// after each checkpoint is durable, so that a log shorter than its head was
// truncated.
const HeadFile = "CHECKPOINT"

// Checkpoint reasons ("event.reason" of checkpoint records).
const (
	checkpointPeriodic = "periodic"
	checkpointRotate   = "rotate"
	checkpointClose    = "close"
)

// ErrCheckpoint is wrapped by checkpoint verification errors.
var ErrCheckpoint = errors.New("bad checkpoint")

// CheckpointMessage returns the bytes a checkpoint signature covers: a
// fixed label, then seq, hash, file, key id and the checkpoint record's
// "@timestamp", each on its own line.
func CheckpointMessage(cp *Checkpoint, t time.Time) []byte {
	b := []byte("zapgate-audit-checkpoint-v1\n")
	b = append(b, "seq="...)
	b = strconv.AppendUint(b, cp.Seq, 10)
	b = append(b, "\nhash="...)
	b = append(b, cp.Hash...)
	b = append(b, "\nfile="...)
	b = append(b, cp.File...)
	b = append(b, "\nkey_id="...)
	b = append(b, cp.KeyID...)
	b = append(b, "\ntime="...)
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '\n')
}

// signer signs checkpoints with one key.
type signer struct {
	priv  ed25519.PrivateKey
	keyID string
}

func newSigner(priv ed25519.PrivateKey) *signer {
	return &signer{priv: priv, keyID: KeyID(priv.Public().(ed25519.PublicKey))}
}

// checkpoint returns a signed checkpoint record covering record seq with
// hash, to be written to file.
func (s *signer) checkpoint(seq uint64, hash, file, reason string, now time.Time) (Record, error) {
	now = canonicalTime(now)
	id, err := NewEventID(now)
	if err != nil {
		return Record{}, err
	}
	cp := &Checkpoint{Seq: seq, Hash: hash, File: file, KeyID: s.keyID}
	cp.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, CheckpointMessage(cp, now)))
	return Record{Time: now, ID: id, Action: ActionCheckpoint, Outcome: OutcomeSuccess,
		Reason: reason, Checkpoint: cp}, nil
}

// verifyCheckpoint checks a checkpoint record's signature with pub and its
// consistency with its own chain fields; file, when not empty, is the base
// name of the file it was read from. Errors wrap ErrCheckpoint.
func verifyCheckpoint(rec *Record, pub ed25519.PublicKey, file string) error {
	cp := rec.Checkpoint
	if cp == nil {
		return fmt.Errorf("%w: not a checkpoint record", ErrCheckpoint)
	}
	if cp.Seq+1 != rec.Seq || cp.Hash != rec.PrevHash {
		return fmt.Errorf("%w: covers seq %d but sits at seq %d after a different hash", ErrCheckpoint, cp.Seq, rec.Seq)
	}
	if file != "" && cp.File != file {
		return fmt.Errorf("%w: names file %q but was read from %q (files renamed or records moved)", ErrCheckpoint, cp.File, file)
	}
	if pub == nil {
		return nil
	}
	if id := KeyID(pub); cp.KeyID != id {
		return fmt.Errorf("%w: signed by key %s, not by the given key %s", ErrCheckpoint, cp.KeyID, id)
	}
	sig, err := base64.StdEncoding.DecodeString(cp.Sig)
	if err != nil || !ed25519.Verify(pub, CheckpointMessage(cp, rec.Time), sig) {
		return fmt.Errorf("%w: signature does not verify", ErrCheckpoint)
	}
	return nil
}

// writeHead replaces dir/CHECKPOINT with line atomically: a synced
// temporary file renamed over it, then the directory synced.
func writeHead(dir string, line []byte) error {
	tmp, err := os.CreateTemp(dir, ".CHECKPOINT-*")
	if err != nil {
		return fmt.Errorf("audit: write %s: %w", HeadFile, err)
	}
	_, err = tmp.Write(append(line[:len(line):len(line)], '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, HeadFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("audit: write %s: %w", HeadFile, err)
	}
	return syncDir(dir)
}

// ReadHead reads a CHECKPOINT file: one checkpoint record line.
func ReadHead(path string) (Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return Record{}, fmt.Errorf("audit: head: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxLineBytes+2))
	if err != nil {
		return Record{}, fmt.Errorf("audit: head %s: %w", path, err)
	}
	line, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok || bytes.IndexByte(line, '\n') >= 0 {
		return Record{}, fmt.Errorf("audit: head %s: want exactly one line", path)
	}
	rec, err := ParseRecord(line)
	if err != nil {
		return Record{}, fmt.Errorf("audit: head %s: %w", path, err)
	}
	if rec.Checkpoint == nil {
		return Record{}, fmt.Errorf("audit: head %s: %w: not a checkpoint record", path, ErrCheckpoint)
	}
	return rec, nil
}
