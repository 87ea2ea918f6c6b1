// Package logging builds zapgate's process logger: slog text or JSON on
// stderr, and an optional filter that keeps only the lines of chosen
// components (every zapgate logger carries a "component" attribute: zap,
// authn, broker, transport, idp, policy, audit, certs, admin).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in format "text" or "json" at level
// ("debug", "info", "warn", "error"). If components is not empty, only
// records whose component is listed are kept (records without a component
// are kept too: start-up and fatal errors must never be filtered away).
func New(w io.Writer, format, level string, components []string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	if len(components) > 0 {
		keep := map[string]bool{}
		for _, c := range components {
			for _, part := range strings.Split(c, ",") {
				if part = strings.TrimSpace(part); part != "" {
					keep[part] = true
				}
			}
		}
		h = &filter{next: h, keep: keep}
	}
	return slog.New(h), nil
}

// filter drops records of components not in keep.
type filter struct {
	next      slog.Handler
	keep      map[string]bool
	component string // from WithAttrs
}

func (f *filter) Enabled(ctx context.Context, l slog.Level) bool { return f.next.Enabled(ctx, l) }

func (f *filter) Handle(ctx context.Context, r slog.Record) error {
	comp := f.component
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "component" {
			comp = a.Value.String()
			return false
		}
		return true
	})
	if comp != "" && !f.keep[comp] {
		return nil
	}
	return f.next.Handle(ctx, r)
}

func (f *filter) WithAttrs(attrs []slog.Attr) slog.Handler {
	g := *f
	for _, a := range attrs {
		if a.Key == "component" {
			g.component = a.Value.String()
		}
	}
	g.next = f.next.WithAttrs(attrs)
	return &g
}

func (f *filter) WithGroup(name string) slog.Handler {
	g := *f
	g.next = f.next.WithGroup(name)
	return &g
}
