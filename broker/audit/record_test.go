package audit

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// chained returns rec prepared and chained as record seq after prev.
func chained(t *testing.T, rec Record, seq uint64, prev string) (Record, []byte) {
	t.Helper()
	r, err := prepare(rec, time.Date(2026, 11, 25, 14, 3, 22, 123456789, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	r.Seq, r.PrevHash = seq, prev
	line, hash := encodeLine(&r)
	r.Hash = hash
	return r, line
}

// hostile holds values that break naive encoders and SIEM formats.
var hostile = []string{
	`a|b`, `a=b`, `a\b`, "a\nb", "a\rb", "a\tb", `"quoted"`, `]`, "\x00\x1b[31mred", "\u2028\u2029", "é✓",
	`CN=Backup Servers\, EU,OU=Groups,DC=corp`, "trailing\\", "a\\=b\\|c",
}

func TestEncodeParseRoundTrip(t *testing.T) {
	rec := sampleRecord(1)
	rec.Reason = strings.Join(hostile, " ")
	rec.User = "PROXY01$|x=y\\"
	rec.Roles = append([]string{}, hostile...)
	rec.Groups = []string{"CN=Quarantine,OU=Groups,DC=corp", "okta:x\ny"}
	rec.SourceIP = netip.MustParseAddr("2001:db8::1")
	rec.Stale = true
	rec.Severity = SeverityWarning
	rec.Topic = "job.status.x"
	rec.PolicyHash = "sha256:0123456789abcdef"
	want, line := chained(t, rec, 7, GenesisHash)
	if !utf8.Valid(line) || bytes.ContainsAny(line, "\n\r") {
		t.Fatalf("line is not one valid UTF-8 line: %q", line)
	}
	got, err := ParseRecord(line)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, line)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestCanonicalFieldOrder(t *testing.T) {
	rec := sampleRecord(1)
	rec.PolicyHash = "sha256:0123456789abcdef"
	_, line := chained(t, rec, 1, GenesisHash)
	order := []string{"@timestamp", "event.id", "event.action", "event.outcome", "event.reason", "user.name", "user.roles",
		"zapgate.groups", "zapgate.key", "source.ip", "zapgate.service", "zapgate.command", "rule.id", "rule.ruleset",
		"zapgate.policy_hash", "audit.seq", "audit.prev_hash", "audit.hash"}
	last := -1
	for _, k := range order {
		i := bytes.Index(line, []byte(`"`+k+`":`))
		if i <= last {
			t.Fatalf("field %s at %d, after %d:\n%s", k, i, last, line)
		}
		last = i
	}
	if !bytes.HasPrefix(line, []byte(`{"@timestamp":"2026-11-25T14:03:22.123456Z","event.id":"`)) {
		t.Errorf("timestamp not canonical: %s", line)
	}
}

func TestParseRejectsNonCanonical(t *testing.T) {
	rec, line := chained(t, sampleRecord(1), 1, GenesisHash)
	s := string(line)
	recHash := rec.Hash
	cases := map[string]string{
		"space after colon":  strings.Replace(s, `"event.outcome":"success"`, `"event.outcome": "success"`, 1),
		"fields swapped":     strings.Replace(s, `"event.action":"authz.request","event.outcome":"success"`, `"event.outcome":"success","event.action":"authz.request"`, 1),
		"duplicate key":      strings.Replace(s, `"event.reason":"allowed"`, `"event.reason":"denied","event.reason":"allowed"`, 1),
		"key case":           strings.Replace(s, `"user.name"`, `"USER.NAME"`, 1),
		"other escape":       strings.Replace(s, `"allowed"`, `"\u0061llowed"`, 1),
		"empty list":         strings.Replace(s, `"user.roles":["proxy"]`, `"user.roles":[]`, 1),
		"null":               strings.Replace(s, `"zapgate.key":"SHA256:q3n1mQe6Nqk0Wc3T"`, `"zapgate.key":null`, 1),
		"unknown field":      strings.Replace(s, `"rule.id"`, `"password":"x","rule.id"`, 1),
		"trailing space":     s + " ",
		"two objects":        s + s,
		"changed value":      strings.Replace(s, `PROXY01$`, `PROXY02$`, 1),
		"changed hash":       strings.Replace(s, recHash, strings.Repeat("a", 64), 1),
		"upper hex hash":     strings.Replace(s, recHash, strings.ToUpper(recHash), 1),
		"time without micro": strings.Replace(s, `14:03:22.123456Z`, `14:03:22Z`, 1),
		"local time":         strings.Replace(s, `14:03:22.123456Z`, `15:03:22.123456+01:00`, 1),
		"bad ip":             strings.Replace(s, `10.20.1.7`, `10.20.1.777`, 1),
		"zero seq":           strings.Replace(s, `"audit.seq":1,`, `"audit.seq":0,`, 1),
		"not json":           `{"@timestamp":`,
		"empty":              ``,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseRecord([]byte(in)); !errors.Is(err, ErrBadRecord) {
				t.Errorf("accepted (err %v): %s", err, in)
			}
		})
	}
}

func TestPrepareValidates(t *testing.T) {
	good := sampleRecord(0)
	cases := map[string]func(r *Record){
		"no action":       func(r *Record) { r.Action = "" },
		"upper action":    func(r *Record) { r.Action = "Authz.Request" },
		"spaced action":   func(r *Record) { r.Action = "authz request" },
		"reserved action": func(r *Record) { r.Action = ActionCheckpoint },
		"no outcome":      func(r *Record) { r.Outcome = "" },
		"bad outcome":     func(r *Record) { r.Outcome = "allow" },
		"bad id":          func(r *Record) { r.ID = "not-a-uuid" },
		"upper id":        func(r *Record) { r.ID = "01A21411-B3B9-7FB5-8719-4AE8C2C5113E" },
		"severity":        func(r *Record) { r.Severity = 8 },
	}
	for name, mut := range cases {
		r := good
		mut(&r)
		if _, err := prepare(r, time.Now()); err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	r, err := prepare(Record{Action: "authz.request", Outcome: OutcomeSuccess, ID: "01a21411-b3b9-7fb5-8719-4ae8c2c5113e",
		Checkpoint: &Checkpoint{Seq: 1}, Seq: 9, Hash: "x"}, time.Now())
	if err != nil || r.Checkpoint != nil || r.Seq != 0 || r.Hash != "" || r.ID != "01a21411-b3b9-7fb5-8719-4ae8c2c5113e" {
		t.Errorf("prepare kept caller chain fields or lost the id: %+v %v", r, err)
	}
}

func TestSanitizeLimits(t *testing.T) {
	r := sampleRecord(0)
	r.User = strings.Repeat("é", MaxValueBytes) // 2 bytes each
	r.Reason = "bad\xffutf8"
	r.Roles = make([]string, MaxRoles+5)
	for i := range r.Roles {
		r.Roles[i] = "role"
	}
	r.Groups = []string{strings.Repeat("g", MaxGroupBytes+1)}
	p, err := prepare(r, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.User) > MaxValueBytes || !utf8.ValidString(p.User) || !strings.HasSuffix(p.User, "…") {
		t.Errorf("user %d bytes, valid %v", len(p.User), utf8.ValidString(p.User))
	}
	if p.Reason != "bad\uFFFDutf8" {
		t.Errorf("reason %q", p.Reason)
	}
	if len(p.Roles) != MaxRoles || len(p.Groups[0]) > MaxGroupBytes || !p.Truncated {
		t.Errorf("roles %d, group %d bytes, truncated %v", len(p.Roles), len(p.Groups[0]), p.Truncated)
	}
	if q, _ := prepare(sampleRecord(0), time.Now()); q.Truncated {
		t.Error("an ordinary record is marked truncated")
	}
}

func TestLargestRecordFitsLine(t *testing.T) {
	r := sampleRecord(0)
	worst := strings.Repeat("\x01", MaxGroupBytes)
	r.Groups = make([]string, MaxGroups)
	for i := range r.Groups {
		r.Groups[i] = worst
	}
	r.Roles = make([]string, MaxRoles)
	for i := range r.Roles {
		r.Roles[i] = worst
	}
	r.Reason = strings.Repeat("\x01", MaxReasonBytes)
	_, line := chained(t, r, 1, GenesisHash)
	if len(line) > MaxLineBytes {
		t.Fatalf("worst-case record is %d bytes, over MaxLineBytes", len(line))
	}
	if _, err := ParseRecord(line); err != nil {
		t.Fatal(err)
	}
}

func TestEventIDs(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 3, 22, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id, err := NewEventID(now)
		if err != nil {
			t.Fatal(err)
		}
		if !validEventID(id) || id[14] != '7' || !strings.ContainsAny(id[19:20], "89ab") {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		if !strings.HasPrefix(strings.ReplaceAll(id, "-", ""), fmt.Sprintf("%012x", now.UnixMilli())) {
			t.Fatalf("time prefix of %s", id)
		}
	}
}
