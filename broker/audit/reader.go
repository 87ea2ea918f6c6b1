package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// errLineTooLong is returned by lineReader for a line over MaxLineBytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

// lineReader reads newline-terminated lines of at most MaxLineBytes.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
	off int64 // offset of the next unread byte
}

func newLineReader(r io.Reader, off int64) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), off: off}
}

// next returns the next line without its newline. At the end of input it
// returns io.EOF, after returning any final bytes that lack a newline with
// complete false. A line over MaxLineBytes is consumed and reported with
// errLineTooLong. The line is valid until the next call.
func (lr *lineReader) next() (line []byte, complete bool, err error) {
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.off += int64(len(chunk))
		if !tooLong {
			if len(lr.buf)+len(chunk) > MaxLineBytes+1 {
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, errLineTooLong
			}
			return lr.buf[:len(lr.buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, false, errLineTooLong
			}
			if len(lr.buf) > 0 {
				return lr.buf, false, nil
			}
			return nil, false, io.EOF
		default:
			return nil, false, err
		}
	}
}

// Entry is one record read from a file.
type Entry struct {
	// Record is the parsed record.
	Record Record
	// Line is the record's line as stored, without the newline; it is
	// valid only until the callback returns.
	Line []byte
	// File is the path of the file the record was read from.
	File string
	// LineNo is its 1-based line number in File.
	LineNo int
}

// ChainError locates the first problem found in a log: the file and line
// of the bad record (line 0 for a problem with a whole file) and why.
type ChainError struct {
	// File is the path of the file.
	File string
	// Line is the 1-based line, or 0.
	Line int
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error formats the problem as "file:line: reason".
func (e *ChainError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Unwrap returns the underlying error.
func (e *ChainError) Unwrap() error { return e.Err }

// ResolvePaths turns command-line arguments (directories and files) into
// the segment files to read, in chain order, and the CHECKPOINT file: the
// one named among the arguments, else the one inside the only directory
// given, if it exists.
func ResolvePaths(args []string) (files []string, head string, err error) {
	var dirs []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, "", fmt.Errorf("audit: %w", err)
		}
		switch {
		case fi.IsDir():
			dirs = append(dirs, a)
			segs, err := Segments(a)
			if err != nil {
				return nil, "", err
			}
			for _, s := range segs {
				files = append(files, s.Path)
			}
		case filepath.Base(a) == HeadFile:
			head = a
		default:
			files = append(files, a)
		}
	}
	if head == "" && len(dirs) == 1 {
		if _, err := os.Stat(filepath.Join(dirs[0], HeadFile)); err == nil {
			head = filepath.Join(dirs[0], HeadFile)
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return fileOrder(files[i], files[j]) })
	return files, head, nil
}

// fileOrder sorts segment files by first sequence number, other files by
// name after them.
func fileOrder(a, b string) bool {
	sa, oka := parseSegmentName(filepath.Base(a))
	sb, okb := parseSegmentName(filepath.Base(b))
	switch {
	case oka && okb:
		return sa < sb
	case oka != okb:
		return oka
	}
	return filepath.Base(a) < filepath.Base(b)
}

// ScanOptions tunes Scan.
type ScanOptions struct {
	// Partial accepts a chain that does not start at record 1 (earlier
	// files archived); by default the first record must be record 1.
	Partial bool
	// OnTornTail, if set, is called instead of failing when the last line
	// of the last file has no newline yet: a live log being written, or
	// a crash the broker sets aside at its next start.
	OnTornTail func(file string, line int)
}

// Scan reads files in order and calls fn for every record, checking each
// record (ParseRecord) and the chain between records and across files. It
// stops at the first problem and returns it as a *ChainError, or returns
// fn's error.
func Scan(files []string, opts ScanOptions, fn func(*Entry) error) error {
	c := chain{partial: opts.Partial}
	for i, path := range files {
		var torn func(string, int)
		if i == len(files)-1 {
			torn = opts.OnTornTail
		}
		if err := c.scanFile(path, torn, fn); err != nil {
			return err
		}
	}
	return nil
}

// scanFile reads one file of the chain.
func (c *chain) scanFile(path string, torn func(string, int), fn func(*Entry) error) error {
	f, err := os.Open(path)
	if err != nil {
		return &ChainError{File: path, Reason: err.Error(), Err: err}
	}
	defer f.Close()
	c.startFile(path)
	lr := newLineReader(f, 0)
	e := Entry{File: path}
	for {
		line, complete, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		e.LineNo++
		if err != nil {
			return &ChainError{File: path, Line: e.LineNo, Reason: err.Error(), Err: err}
		}
		if !complete && torn != nil {
			torn(path, e.LineNo)
			return nil
		}
		if !complete {
			return &ChainError{File: path, Line: e.LineNo, Reason: "torn last line (no newline): the writer stopped mid-record"}
		}
		rec, err := ParseRecord(line)
		if err != nil {
			return &ChainError{File: path, Line: e.LineNo, Reason: err.Error(), Err: err}
		}
		if reason := c.link(&rec); reason != "" {
			return &ChainError{File: path, Line: e.LineNo, Reason: reason}
		}
		e.Record, e.Line = rec, line
		if err := fn(&e); err != nil {
			return err
		}
	}
}
