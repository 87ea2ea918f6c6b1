package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestComponentFilter(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "text", "info", []string{"zap,transport"})
	if err != nil {
		t.Fatal(err)
	}
	log.With("component", "zap").Info("kept-1")
	log.With("component", "broker").Info("dropped-1")
	log.Info("kept-2", "component", "transport")
	log.Info("dropped-2", "component", "audit")
	log.Info("kept-3") // no component: start-up lines are never filtered
	log.With("component", "zap").WithGroup("g").Info("kept-4")
	log.With("component", "zap").Debug("dropped-3") // below level
	out := buf.String()
	for _, w := range []string{"kept-1", "kept-2", "kept-3", "kept-4"} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %s:\n%s", w, out)
		}
	}
	for _, w := range []string{"dropped-1", "dropped-2", "dropped-3"} {
		if strings.Contains(out, w) {
			t.Errorf("kept %s:\n%s", w, out)
		}
	}
}

func TestBadSettings(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", "info", nil); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := New(&bytes.Buffer{}, "json", "loud", nil); err == nil {
		t.Error("level loud accepted")
	}
}
