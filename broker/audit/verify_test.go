package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenLog writes a closed log of n records rotated into several files
// and returns its directory.
func goldenLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	opts.RotateBytes = 4096
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, n)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyDir copies a flat directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// rewrite replaces a file's lines with edit's result.
func rewrite(t *testing.T, path string, edit func(lines [][]byte) [][]byte) {
	t.Helper()
	lines := readLines(t, path)
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if err := os.WriteFile(path, bytes.Join(edit(lines), nil), 0o640); err != nil {
		t.Fatal(err)
	}
}

// expectBreak verifies dir and wants a ChainError at file (base name
// suffix) and line, whose reason contains want.
func expectBreak(t *testing.T, dir string, opts VerifyOptions, file string, line int, want string) {
	t.Helper()
	files, head, err := ResolvePaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Head == "" {
		opts.Head = head
	}
	_, err = Verify(files, opts)
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("verify: want a ChainError, got %v", err)
	}
	if !strings.HasSuffix(ce.File, file) || ce.Line != line || !strings.Contains(ce.Reason, want) {
		t.Fatalf("got %q\nwant %s:%d: …%s…", ce.Error(), file, line, want)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	golden := goldenLog(t, 60)
	files := segmentPaths(t, golden)
	if len(files) < 4 {
		t.Fatalf("want at least 4 files, got %d", len(files))
	}
	base := func(i int) string { return filepath.Base(files[i]) }
	nLines := func(dir string, i int) int { return len(readLines(t, filepath.Join(dir, base(i)))) - 1 }
	keyed := VerifyOptions{Key: testPub}
	firstSeq := func(name string) uint64 { s, _ := parseSegmentName(name); return s }
	mid := len(files) / 2
	t.Run("intact", func(t *testing.T) { mustVerify(t, golden) })
	t.Run("flipped byte in a value", func(t *testing.T) {
		dir := copyDir(t, golden)
		rewrite(t, filepath.Join(dir, base(mid)), func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte("PROXY"), []byte("PROXZ"), 1)
			return l
		})
		expectBreak(t, dir, VerifyOptions{Key: testPub, Dir: dir}, base(mid), 3, "hash mismatch")
	})
	t.Run("removed line", func(t *testing.T) {
		dir := copyDir(t, golden)
		rewrite(t, filepath.Join(dir, base(mid)), func(l [][]byte) [][]byte { return append(l[:3], l[4:]...) })
		expectBreak(t, dir, keyed, base(mid), 4, "record "+fmt.Sprint(firstSeq(base(mid))+3)+" is missing (lines removed?)")
	})
	t.Run("removed first line of a file", func(t *testing.T) {
		dir := copyDir(t, golden)
		rewrite(t, filepath.Join(dir, base(mid)), func(l [][]byte) [][]byte { return l[1:] })
		expectBreak(t, dir, keyed, base(mid), 1, "file name says its first record is seq")
	})
	t.Run("swapped lines", func(t *testing.T) {
		dir := copyDir(t, golden)
		rewrite(t, filepath.Join(dir, base(mid)), func(l [][]byte) [][]byte { l[2], l[3] = l[3], l[2]; return l })
		expectBreak(t, dir, keyed, base(mid), 3, "missing")
	})
	t.Run("truncated tail", func(t *testing.T) {
		dir := copyDir(t, golden)
		last := len(files) - 1
		rewrite(t, filepath.Join(dir, base(last)), func(l [][]byte) [][]byte { return l[:len(l)-1] })
		expectBreak(t, dir, keyed, HeadFile, 1, "truncated or the newest file removed")
	})
	t.Run("truncated mid-line", func(t *testing.T) {
		dir := copyDir(t, golden)
		last := len(files) - 1
		rewrite(t, filepath.Join(dir, base(last)), func(l [][]byte) [][]byte {
			l[len(l)-1] = l[len(l)-1][:40]
			return l
		})
		expectBreak(t, dir, keyed, HeadFile, 1, "truncated or the newest file removed")
	})
	t.Run("torn line in an older file", func(t *testing.T) {
		dir := copyDir(t, golden)
		rewrite(t, filepath.Join(dir, base(mid)), func(l [][]byte) [][]byte {
			l[len(l)-1] = l[len(l)-1][:40]
			return l
		})
		expectBreak(t, dir, keyed, base(mid), nLines(golden, mid), "torn last line")
	})
	t.Run("removed middle file", func(t *testing.T) {
		dir := copyDir(t, golden)
		must(t, os.Remove(filepath.Join(dir, base(mid))))
		expectBreak(t, dir, keyed, base(mid+1), 1, "missing before this file (a file was removed?)")
	})
	t.Run("removed last file", func(t *testing.T) {
		dir := copyDir(t, golden)
		must(t, os.Remove(filepath.Join(dir, base(len(files)-1))))
		expectBreak(t, dir, keyed, HeadFile, 1, "truncated or the newest file removed")
	})
	t.Run("removed first file", func(t *testing.T) {
		dir := copyDir(t, golden)
		must(t, os.Remove(filepath.Join(dir, base(0))))
		expectBreak(t, dir, keyed, base(1), 1, "the chain starts at seq")
		files, head, _ := ResolvePaths([]string{dir})
		res, err := Verify(files, VerifyOptions{Key: testPub, Head: head, Dir: dir, Partial: true})
		if err != nil || res.FirstSeq == 1 || !strings.Contains(strings.Join(res.Notes, "\n"), "partial log") {
			t.Errorf("--partial: %+v %v", res, err)
		}
	})
	t.Run("removed last file and CHECKPOINT", func(t *testing.T) {
		dir := copyDir(t, golden)
		must(t, os.Remove(filepath.Join(dir, base(len(files)-1))))
		must(t, os.Remove(filepath.Join(dir, HeadFile)))
		expectBreak(t, dir, VerifyOptions{Key: testPub, Dir: dir}, HeadFile, 0, "missing")
	})
	t.Run("renamed file", func(t *testing.T) {
		dir := copyDir(t, golden)
		seq, _ := parseSegmentName(base(mid))
		must(t, os.Rename(filepath.Join(dir, base(mid)), filepath.Join(dir, segmentName(seq+1, time.Now()))))
		expectBreak(t, dir, keyed, "", 1, "file name says its first record is seq")
	})
	t.Run("wrong key", func(t *testing.T) {
		other, _, _ := ed25519.GenerateKey(rand.Reader)
		expectBreak(t, golden, VerifyOptions{Key: other}, HeadFile, 1, "signed by key")
	})
}

func TestVerifyDetectsRewrittenChainBySignature(t *testing.T) {
	// An attacker who can write the files but not sign changes a record and
	// recomputes every hash after it: the chain is consistent again, only
	// the checkpoint signatures catch it.
	dir := goldenLog(t, 30)
	files := segmentPaths(t, dir)
	var all []Record
	err := Scan(files, ScanOptions{}, func(e *Entry) error { all = append(all, e.Record); return nil })
	must(t, err)
	all[4].User = "ATTACKER$"
	prev := GenesisHash
	byFile := map[string][][]byte{}
	fileOf := func(seq uint64) string {
		f := files[0]
		for _, p := range files {
			if s, _ := parseSegmentName(filepath.Base(p)); s <= seq {
				f = p
			}
		}
		return f
	}
	for i := range all {
		r := &all[i]
		r.PrevHash = prev
		if r.Checkpoint != nil {
			r.Checkpoint.Hash = prev
		}
		line, h := encodeLine(r)
		r.Hash, prev = h, h
		byFile[fileOf(r.Seq)] = append(byFile[fileOf(r.Seq)], append(line, '\n'))
	}
	for path, lines := range byFile {
		must(t, os.WriteFile(path, bytes.Join(lines, nil), 0o640))
	}
	res, err := Verify(files, VerifyOptions{})
	if err != nil {
		t.Fatalf("without a key the rewritten chain should look consistent: %v", err)
	}
	if res.SignaturesChecked {
		t.Error("signatures reported checked")
	}
	expectBreak(t, dir, VerifyOptions{Key: testPub}, filepath.Base(files[0]), len(byFile[files[0]]), "signature does not verify")
}

func TestVerifyEveryFlippedByteDetected(t *testing.T) {
	dir := goldenLog(t, 8)
	path := segmentPaths(t, dir)[0]
	orig, err := os.ReadFile(path)
	must(t, err)
	for off := 0; off < len(orig); off += 3 {
		data := bytes.Clone(orig)
		data[off] ^= 0x01
		must(t, os.WriteFile(path, data, 0o640))
		if _, err := verifyDir(dir); err == nil {
			t.Fatalf("flipping byte %d (%q) went undetected", off, orig[off])
		}
	}
}

func TestVerifyForgedHead(t *testing.T) {
	dir := goldenLog(t, 5)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	s := newSigner(otherPriv)
	last := mustVerify(t, dir)
	cp, err := s.checkpoint(last.LastSeq+10, strings.Repeat("a", 64), "x.jsonl", "close", time.Now())
	must(t, err)
	cp.Seq, cp.PrevHash = last.LastSeq+11, strings.Repeat("a", 64)
	line, _ := encodeLine(&cp)
	must(t, os.WriteFile(filepath.Join(dir, HeadFile), append(line, '\n'), 0o640))
	expectBreak(t, dir, VerifyOptions{Key: testPub}, HeadFile, 1, "signed by key")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
