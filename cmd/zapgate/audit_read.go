package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/broker/audit"
)

// auditFilterFlags are the record filters of export and tail.
type auditFilterFlags struct {
	since, until, outcome, principal string
	actions                          []string
}

func (f *auditFilterFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.since, "since", "", "records at or after: RFC 3339 time, YYYY-MM-DD, or a duration ago (24h, 7d)")
	c.Flags().StringVar(&f.until, "until", "", "records before: same forms as --since")
	c.Flags().StringSliceVar(&f.actions, "action", nil, "event.action to keep, exact or prefix.* (repeatable, comma-separated)")
	c.Flags().StringVar(&f.outcome, "outcome", "", "success (allow) or failure (deny), or unknown")
	c.Flags().StringVar(&f.principal, "principal", "", "user.name to keep (exact)")
}

// filter builds the audit.Filter.
func (f *auditFilterFlags) filter() (audit.Filter, error) {
	now := time.Now()
	var out audit.Filter
	var err error
	if out.Since, err = audit.ParseTime(f.since, now); err != nil {
		return out, fmt.Errorf("--since: %w", err)
	}
	if out.Until, err = audit.ParseTime(f.until, now); err != nil {
		return out, fmt.Errorf("--until: %w", err)
	}
	if out.Outcome, err = audit.ParseOutcome(f.outcome); err != nil {
		return out, fmt.Errorf("--outcome: %w", err)
	}
	out.Actions, out.Principal = f.actions, f.principal
	return out, nil
}

func newAuditExportCmd(g *globals) *cobra.Command {
	var ff auditFilterFlags
	var format, output string
	c := &cobra.Command{
		Use:   "export [FILES|DIR]... --format jsonl|ecs|cef|leef",
		Short: "Export audit records for a SIEM (jsonl, ecs, cef, leef)",
		Long: `export writes the records that match the filters, one per line: jsonl (the
stored lines, unchanged and verifiable), ecs (Elastic Common Schema JSON), cef
(ArcSight CEF) or leef (QRadar LEEF 2.0, tab-delimited), with each format's
escaping. Every record is checked on the way (hash and chain); at the first
break export stops with FILE:LINE and exits 1 (discard that output and run
zapgate audit verify).`,
		Example: `  zapgate audit export --since 2026-11-01 --until 2026-12-01 --outcome failure --format cef > denials.cef
  zapgate audit export --since 24h --action 'authz.*' --principal 'PROXY01$' --format ecs`,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmtv, err := audit.ParseFormat(format)
			if err != nil {
				return err
			}
			flt, err := ff.filter()
			if err != nil {
				return err
			}
			files, _, _, err := auditPaths(g, args)
			if err != nil {
				return err
			}
			w, done, err := openOutput(cmd.OutOrStdout(), output)
			if err != nil {
				return err
			}
			x := audit.NewExporter(w, fmtv, auditProductVersion())
			err = audit.Scan(files, audit.ScanOptions{Partial: true, OnTornTail: func(string, int) {}}, func(e *audit.Entry) error {
				if !flt.Match(&e.Record) {
					return nil
				}
				return x.Write(e)
			})
			if ferr := x.Flush(); err == nil {
				err = ferr
			}
			if derr := done(); err == nil {
				err = derr
			}
			return err
		},
	}
	ff.add(c)
	c.Flags().StringVar(&format, "format", "jsonl", "jsonl, ecs, cef or leef")
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return c
}

// openOutput returns stdout, or a new file (mode 0640) with its closer.
func openOutput(stdout io.Writer, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

func newAuditTailCmd(g *globals) *cobra.Command {
	var ff auditFilterFlags
	var follow bool
	var n int
	var format string
	c := &cobra.Command{
		Use:   "tail [DIR|FILES]... [-f] [-n N]",
		Short: "Show audit records one line each (-f to follow)",
		Long: `tail prints the last N records that match the filters, one readable line
each (or in an export format with --format), then with -f keeps printing new
records as the broker writes them, across file rotations, until interrupted.
Hostile values are quoted so they cannot forge fields or reach the terminal
as control characters.`,
		Example: `  zapgate audit tail -n 50 --outcome failure
  zapgate audit tail -f --action authn.connect`,
		RunE: func(cmd *cobra.Command, args []string) error {
			flt, err := ff.filter()
			if err != nil {
				return err
			}
			files, _, dir, err := auditPaths(g, args)
			if err != nil {
				return err
			}
			if follow && dir == "" {
				return fmt.Errorf("audit tail -f follows a directory, not files")
			}
			p, err := newTailPrinter(cmd.OutOrStdout(), format)
			if err != nil {
				return err
			}
			last, err := tailLast(files, &flt, n, p)
			if err != nil || !follow {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return tailFollow(ctx, dir, last, &flt, p)
		},
	}
	ff.add(c)
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new records")
	c.Flags().IntVarP(&n, "lines", "n", 20, "how many of the last matching records to print first")
	c.Flags().StringVar(&format, "format", "text", "text, or an export format: jsonl, ecs, cef, leef")
	return c
}

// tailPrinter prints records as text lines or in an export format.
type tailPrinter struct {
	w *bufio.Writer
	x *audit.Exporter
}

func newTailPrinter(out io.Writer, format string) (*tailPrinter, error) {
	p := &tailPrinter{w: bufio.NewWriter(out)}
	if strings.EqualFold(format, "text") {
		return p, nil
	}
	f, err := audit.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	p.x = audit.NewExporter(p.w, f, auditProductVersion())
	return p, nil
}

func (p *tailPrinter) print(e *audit.Entry) error {
	if p.x != nil {
		if err := p.x.Write(e); err != nil {
			return err
		}
		return p.x.Flush()
	}
	_, err := p.w.WriteString(audit.FormatLine(&e.Record) + "\n")
	return err
}

// tailLast prints the last n matching records and returns the last seq
// read (matching or not).
func tailLast(files []string, flt *audit.Filter, n int, p *tailPrinter) (uint64, error) {
	ring := make([]audit.Entry, 0, max(n, 0))
	var last uint64
	err := audit.Scan(files, audit.ScanOptions{Partial: true, OnTornTail: func(string, int) {}}, func(e *audit.Entry) error {
		last = e.Record.Seq
		if n <= 0 || !flt.Match(&e.Record) {
			return nil
		}
		c := *e
		c.Line = append([]byte(nil), e.Line...)
		if len(ring) == n {
			copy(ring, ring[1:])
			ring = ring[:n-1]
		}
		ring = append(ring, c)
		return nil
	})
	for i := range ring {
		if perr := p.print(&ring[i]); perr != nil {
			return last, perr
		}
	}
	if ferr := p.w.Flush(); err == nil {
		err = ferr
	}
	return last, err
}

// tailFollow prints matching records after seq last as they are written.
func tailFollow(ctx context.Context, dir string, last uint64, flt *audit.Filter, p *tailPrinter) error {
	fl := audit.NewFollower(dir, audit.FollowOptions{From: last + 1, Poll: 250 * time.Millisecond})
	defer fl.Close()
	for {
		e, err := fl.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if !flt.Match(&e.Record) {
			continue
		}
		if err := p.print(&e); err != nil {
			return err
		}
		if err := p.w.Flush(); err != nil {
			return err
		}
	}
}
