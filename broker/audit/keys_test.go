package audit

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateAndLoadKeys(t *testing.T) {
	dir := t.TempDir()
	pubPath, secPath, id, err := GenerateKey(dir, "audit")
	must(t, err)
	fi, err := os.Stat(secPath)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret mode %v", fi.Mode().Perm())
	}
	priv, err := LoadSecretKey(secPath)
	must(t, err)
	pub, err := LoadPublicKey(pubPath)
	must(t, err)
	if !pub.Equal(priv.Public()) || KeyID(pub) != id || !strings.HasPrefix(id, "SHA256:") || len(id) != 23 {
		t.Errorf("keys do not match: %s", id)
	}
	fromSecret, err := LoadPublicKey(secPath)
	must(t, err)
	if !fromSecret.Equal(pub) {
		t.Error("public key from the secret file differs")
	}
	if _, _, _, err := GenerateKey(dir, "audit"); err == nil {
		t.Error("overwrote an existing key")
	}
	if _, _, _, err := GenerateKey(dir, "../x"); err == nil {
		t.Error("accepted a path as name")
	}
}

func TestLoadSecretKeyRefusesWideMode(t *testing.T) {
	dir := t.TempDir()
	_, secPath, _, err := GenerateKey(dir, "k")
	must(t, err)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		must(t, os.Chmod(secPath, mode))
		if _, err := LoadSecretKey(secPath); !errors.Is(err, ErrInsecureMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %v: %v", mode, err)
		}
	}
	must(t, os.Chmod(secPath, 0o400))
	if _, err := LoadSecretKey(secPath); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	must(t, os.WriteFile(bad, []byte("not a key"), 0o600))
	if _, err := LoadSecretKey(bad); err == nil {
		t.Error("loaded garbage")
	}
	if _, err := LoadPublicKey(bad); err == nil {
		t.Error("loaded garbage as public key")
	}
	if _, err := LoadSecretKey(dir); err == nil {
		t.Error("loaded a directory")
	}
}

func TestCheckpointMessageCoversEveryField(t *testing.T) {
	s := newSigner(testPriv)
	rec, err := s.checkpoint(9, GenesisHash, "f.jsonl", checkpointClose, testNow)
	must(t, err)
	rec.Seq, rec.PrevHash = 10, GenesisHash
	must(t, verifyCheckpoint(&rec, testPub, "f.jsonl"))
	muts := map[string]func(r *Record){
		"seq":  func(r *Record) { r.Checkpoint.Seq, r.Seq = 10, 11 },
		"hash": func(r *Record) { r.Checkpoint.Hash, r.PrevHash = strings.Repeat("1", 64), strings.Repeat("1", 64) },
		"file": func(r *Record) { r.Checkpoint.File = "g.jsonl" },
		"key":  func(r *Record) { r.Checkpoint.KeyID = "SHA256:xxxxxxxxxxxxxxxx" },
		"time": func(r *Record) { r.Time = r.Time.Add(time.Microsecond) },
		"sig":  func(r *Record) { r.Checkpoint.Sig = "AAAA" },
	}
	for name, mut := range muts {
		r := rec
		cp := *rec.Checkpoint
		r.Checkpoint = &cp
		mut(&r)
		if err := verifyCheckpoint(&r, testPub, r.Checkpoint.File); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s changed, verify says %v", name, err)
		}
	}
	if err := verifyCheckpoint(&rec, testPub, "other.jsonl"); err == nil {
		t.Error("checkpoint accepted in another file")
	}
	var nilKey ed25519.PublicKey
	if err := verifyCheckpoint(&rec, nilKey, ""); err != nil {
		t.Errorf("structure-only check: %v", err)
	}
}
