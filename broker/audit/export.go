package audit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Format is an export format.
type Format string

// Export formats.
const (
	// FormatJSONL writes each record's stored line unchanged: lossless,
	// with the chain fields, so the receiver can verify it.
	FormatJSONL Format = "jsonl"
	// FormatECS writes one nested Elastic Common Schema document per line.
	FormatECS Format = "ecs"
	// FormatCEF writes ArcSight Common Event Format lines.
	FormatCEF Format = "cef"
	// FormatLEEF writes IBM QRadar LEEF 2.0 lines, tab-delimited.
	FormatLEEF Format = "leef"
)

// ParseFormat parses an export format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatJSONL, FormatECS, FormatCEF, FormatLEEF:
		return f, nil
	}
	return "", fmt.Errorf("audit: format %q: want jsonl, ecs, cef or leef", s)
}

// Exporter writes records in one format, one per line.
type Exporter struct {
	w       *bufio.Writer
	format  Format
	version string
	buf     []byte
}

// NewExporter returns an Exporter writing to w; version is the product
// version in CEF and LEEF headers.
func NewExporter(w io.Writer, format Format, version string) *Exporter {
	if version == "" {
		version = "devel"
	}
	return &Exporter{w: bufio.NewWriter(w), format: format, version: version}
}

// Write writes one record.
func (x *Exporter) Write(e *Entry) error {
	b := x.buf[:0]
	switch x.format {
	case FormatJSONL:
		b = append(b, e.Line...)
	case FormatECS:
		var err error
		if b, err = appendECS(b, &e.Record); err != nil {
			return err
		}
	case FormatCEF:
		b = appendCEF(b, &e.Record, x.version)
	case FormatLEEF:
		b = appendLEEF(b, &e.Record, x.version)
	default:
		return fmt.Errorf("audit: export: unknown format %q", x.format)
	}
	b = append(b, '\n')
	x.buf = b
	if _, err := x.w.Write(b); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return nil
}

// Flush writes buffered output.
func (x *Exporter) Flush() error {
	if err := x.w.Flush(); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return nil
}

// siemSeverity maps a record to the 0–10 scale of CEF and LEEF: its
// syslog severity if set, else by outcome.
func siemSeverity(r *Record) int {
	switch r.Severity {
	case SeverityAlert:
		return 10
	case SeverityCritical:
		return 9
	case SeverityError:
		return 7
	case SeverityWarning:
		return 5
	case SeverityNotice:
		return 4
	case SeverityInfo:
		return 3
	case SeverityDebug:
		return 1
	}
	switch r.Outcome {
	case OutcomeFailure:
		return 5
	case OutcomeUnknown:
		return 4
	}
	return 3
}

// listJSON renders a list as a compact JSON array, the unambiguous form
// of a list inside a CEF or LEEF value (DNs contain commas).
func listJSON(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return string(appendList(nil, "x", list)[len(`,"x":`):])
}
