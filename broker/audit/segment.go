package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// A log directory holds segment files named
// audit-<first seq, 20 digits>-<UTC creation time>.jsonl, so that names
// sort in chain order, plus CHECKPOINT (see HeadFile) and any ".torn"
// files set aside by recovery.

// segmentRE matches a segment file name.
var segmentRE = regexp.MustCompile(`^audit-(\d{20})-(\d{8}T\d{6}Z)\.jsonl$`)

// segmentTimeLayout is the time in a segment file name.
const segmentTimeLayout = "20060102T150405Z"

// Segment is one file of the log.
type Segment struct {
	// Path is the file's path.
	Path string
	// Name is its base name.
	Name string
	// FirstSeq is the sequence number of its first record, from the name.
	FirstSeq uint64
}

// segmentName returns the file name of a segment starting at first.
func segmentName(first uint64, created time.Time) string {
	return fmt.Sprintf("audit-%020d-%s.jsonl", first, created.UTC().Format(segmentTimeLayout))
}

// parseSegmentName returns the first sequence number in a segment file
// name, and whether name is one.
func parseSegmentName(name string) (uint64, bool) {
	m := segmentRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	first, err := strconv.ParseUint(m[1], 10, 64)
	return first, err == nil
}

// Segments lists the segment files of a log directory in chain order.
func Segments(dir string) ([]Segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []Segment
	for _, e := range entries {
		first, ok := parseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		out = append(out, Segment{Path: filepath.Join(dir, e.Name()), Name: e.Name(), FirstSeq: first})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstSeq < out[j].FirstSeq })
	return out, nil
}

// createSegment creates a new, empty segment file for appending and makes
// its directory entry durable.
func createSegment(dir string, first uint64, now time.Time) (*os.File, string, error) {
	name := segmentName(first, now)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if errors.Is(err, fs.ErrExist) {
		// Left by an earlier attempt whose directory sync failed: reuse it
		// if it is still empty.
		if fi, serr := os.Lstat(path); serr == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("audit: create segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, "", err
	}
	return f, name, nil
}

// openSegment opens an existing segment for appending.
func openSegment(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("audit: open segment: %w", err)
	}
	return f, nil
}

// syncDir fsyncs a directory so that entries created or renamed in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: sync directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit: sync directory %s: %w", dir, err)
	}
	return nil
}
