package keyaudit

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
)

// stateVersion is the version of the state file's format.
const stateVersion = 1

// state is the registry as last audited: what the state file holds.
type state struct {
	Version  int               `json:"version"`
	Dir      string            `json:"dir"`
	Missing  bool              `json:"missing,omitempty"`
	DirError string            `json:"dir_error,omitempty"`
	Keys     map[string]entry  `json:"keys"` // by Z85 public key
	Refused  map[string]string `json:"refused,omitempty"`
}

// entry is one key's state.
type entry struct {
	State       string `json:"state"` // "bound" or "revoked"
	Fingerprint string `json:"fingerprint"`
	Principal   string `json:"principal,omitempty"`
	Expires     string `json:"expires,omitempty"`
	Source      string `json:"source,omitempty"`
	File        string `json:"file,omitempty"` // relative to the registry
	By          string `json:"by,omitempty"`   // added-by or revoked-by
	Owner       int    `json:"owner"`          // uid of the file, -1 unknown
}

// describe is the entry as one line for event.reason.
func (e entry) describe() string {
	var b strings.Builder
	b.WriteString(e.State)
	for _, f := range [][2]string{{"principal", e.Principal}, {"expires", e.Expires}, {"source", e.Source}, {"file", e.File}, {"by", e.By}} {
		if f[1] != "" {
			fmt.Fprintf(&b, " %s=%s", f[0], f[1])
		}
	}
	return b.String()
}

// fromSnapshot is the state a snapshot shows. While the directory is
// missing or refused nothing is bound, but the keys of prev are kept, so
// that its return is compared with the bindings before the problem rather
// than recorded as every key added again.
func fromSnapshot(snap certs.Snapshot, prev *state) *state {
	s := &state{Version: stateVersion, Dir: snap.Dir, Missing: snap.Missing, DirError: snap.DirError,
		Keys: map[string]entry{}, Refused: maps.Clone(snap.Refused)}
	if snap.Missing || snap.DirError != "" {
		if prev != nil {
			s.Keys = maps.Clone(prev.Keys)
		}
		return s
	}
	for k, b := range snap.Bound {
		e := newEntry("bound", snap.Dir, b)
		e.By = b.AddedBy
		s.Keys[k.String()] = e
	}
	for k, b := range snap.Revoked {
		e := newEntry("revoked", snap.Dir, b)
		e.By = b.RevokedBy
		s.Keys[k.String()] = e
	}
	return s
}

func newEntry(st, dir string, b certs.Binding) entry {
	e := entry{State: st, Fingerprint: b.Key.Fingerprint(), Principal: b.Principal, Source: b.Source, File: rel(dir, b.File), Owner: b.Owner}
	if !b.Expires.IsZero() {
		e.Expires = b.Expires.UTC().Format(time.RFC3339)
	}
	return e
}

func rel(dir, file string) string {
	if r, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return file
}

// reason builds event.reason: CODE followed by key="value" fields, empty
// ones left out.
func reason(code string, fields ...string) string {
	var b strings.Builder
	b.WriteString(code)
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] != "" {
			fmt.Fprintf(&b, " %s=%q", fields[i], fields[i+1])
		}
	}
	return b.String()
}

// diff returns the records of the changes from prev (nil: nothing audited
// yet) to next, in a stable order: the directory, refused files, then keys
// by fingerprint.
func diff(prev, next *state) []audit.Record {
	baseline := prev == nil
	if prev == nil {
		prev = &state{Keys: map[string]entry{}}
	}
	var out []audit.Record
	fail := func(r audit.Record) audit.Record {
		r.Action, r.Outcome, r.Severity = ActionError, audit.OutcomeFailure, audit.SeverityWarning
		return r
	}
	ok := func(r audit.Record) audit.Record {
		r.Action, r.Outcome = ActionError, audit.OutcomeSuccess
		return r
	}
	bound := 0
	for _, e := range prev.Keys {
		if e.State == "bound" {
			bound++
		}
	}
	switch {
	case next.Missing && !prev.Missing:
		out = append(out, fail(audit.Record{Reason: reason("registry-missing", "dir", next.Dir,
			"detail", fmt.Sprintf("%d bindings dropped; no key is bound until the directory is back", bound))}))
	case !next.Missing && prev.Missing:
		out = append(out, ok(audit.Record{Reason: reason("registry-restored", "dir", next.Dir)}))
	}
	switch {
	case next.DirError != "" && next.DirError != prev.DirError:
		out = append(out, fail(audit.Record{Reason: reason("registry-refused", "dir", next.Dir,
			"detail", fmt.Sprintf("%s; %d bindings dropped", next.DirError, bound))}))
	case next.DirError == "" && prev.DirError != "":
		out = append(out, ok(audit.Record{Reason: reason("registry-trusted", "dir", next.Dir)}))
	}

	// Files refused now (or for another reason than before), and files no
	// longer refused. A key whose file is now refused is reported here
	// with the binding it had.
	byFile := map[string]string{} // file → Z85 key bound by it before
	for k, e := range prev.Keys {
		if e.State == "bound" {
			byFile[e.File] = k
		}
	}
	reported := map[string]bool{}
	for _, f := range slices.Sorted(maps.Keys(next.Refused)) {
		why := next.Refused[f]
		if prev.Refused[f] == why {
			continue
		}
		r := fail(audit.Record{})
		var before string
		if k, had := byFile[rel(next.Dir, f)]; had {
			if _, still := next.Keys[k]; !still {
				e := prev.Keys[k]
				r.Key, before, reported[k] = e.Fingerprint, e.describe(), true
			}
		}
		r.Reason = reason("file-refused", "file", rel(next.Dir, f), "detail", why, "before", before)
		out = append(out, r)
	}
	for _, f := range slices.Sorted(maps.Keys(prev.Refused)) {
		if _, still := next.Refused[f]; !still {
			out = append(out, ok(audit.Record{Reason: reason("file-accepted", "file", rel(next.Dir, f),
				"detail", "no longer refused (fixed or removed)")}))
		}
	}

	keys := slices.Sorted(maps.Keys(next.Keys))
	for k := range prev.Keys {
		if _, ok := next.Keys[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		return strings.Compare(fingerprint(prev, next, a), fingerprint(prev, next, b))
	})
	for _, k := range keys {
		p, had := prev.Keys[k]
		n, has := next.Keys[k]
		if reported[k] || had && has && p == n {
			continue
		}
		r := audit.Record{Outcome: audit.OutcomeSuccess, Key: fingerprint(prev, next, k)}
		switch {
		case !has && p.State == "bound":
			r.Action, r.Reason = ActionRemove, reason("removed", "principal", p.Principal, "before", p.describe(),
				"detail", "the file is gone without a revocation")
		case !has:
			r.Action, r.Reason = ActionChange, reason("unrevoked", "principal", p.Principal, "before", p.describe(),
				"detail", "the file in revoked/ is gone; the key may be bound again")
		case n.State == "revoked" && (!had || p.State != "revoked"):
			r.Action, r.User = ActionRevoke, n.By
			r.Reason = reason("revoked", "principal", pick(n.Principal, p.Principal), "before", describeIf(had, p), "after", n.describe())
		case n.State == "bound" && (!had || p.State != "bound"):
			code := "added"
			if baseline {
				code = "baseline"
			}
			r.Action, r.User = ActionAdd, n.By
			r.Reason = reason(code, "principal", n.Principal, "before", describeIf(had, p), "after", n.describe())
		case n.State == "revoked":
			continue // the revoked file was renamed or restamped: still revoked
		default:
			r.Action = ActionChange
			owner := "" // a change without a new stamp: name the file's owner
			if n.By != p.By {
				r.User = n.By
			} else if n.Owner >= 0 {
				owner = fmt.Sprintf("uid %d", n.Owner)
			}
			r.Reason = reason("changed", "principal", n.Principal, "before", p.describe(), "after", n.describe(), "owner", owner)
		}
		out = append(out, r)
	}
	return out
}

func fingerprint(prev, next *state, k string) string {
	if e, ok := next.Keys[k]; ok {
		return e.Fingerprint
	}
	return prev.Keys[k].Fingerprint
}

func describeIf(ok bool, e entry) string {
	if !ok {
		return ""
	}
	return e.describe()
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
