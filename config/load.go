package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/zapgate/zapgate/internal/fileerr"
	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file, located by file and line
// ("file:line: message").
type Error = fileerr.Error

// Errors is every problem found in one configuration file, sorted by line; it is
// returned as one error, one problem per line.
type Errors = fileerr.Errors

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a configuration strictly: unknown keys, duplicate keys,
// values of the wrong type and invalid settings are all reported, each with
// the file name and line. Absent keys take the values of Defaults.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs Errors
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		errs = append(errs, yamlErrors(name, err)...)
	}
	if len(errs) == 0 {
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			errs = append(errs, &Error{File: name, Line: extra.Line, Msg: "more than one YAML document; zapgate reads one"})
		}
	}
	if len(errs) == 0 {
		var root yaml.Node
		_ = yaml.Unmarshal(data, &root)
		errs = append(errs, cfg.validate(name, &root)...)
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return &cfg, nil
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var notFoundRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlErrors turns the decoder's messages into located errors with wording
// an operator understands.
func yamlErrors(name string, err error) Errors {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make(Errors, 0, len(msgs))
	for _, m := range msgs {
		e := &Error{File: name, Msg: strings.TrimPrefix(m, "yaml: ")}
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			e.Line, _ = strconv.Atoi(sub[1])
			e.Msg = sub[2]
		}
		if sub := notFoundRE.FindStringSubmatch(e.Msg); sub != nil {
			e.Msg = fmt.Sprintf("unknown key %q", sub[1])
		}
		out = append(out, e)
	}
	return out
}
