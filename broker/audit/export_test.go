package audit

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode"
)

// hostileRecord carries every character the SIEM formats treat specially.
func hostileRecord(t *testing.T) (Record, []byte) {
	rec := sampleRecord(3)
	rec.Outcome = OutcomeFailure
	rec.User = "evil|user=x\\y\nline2\ttab"
	rec.Reason = `deny \= rule|x=1` + "\r\nSPOOFED=1"
	rec.Roles = []string{"a,b", `c"d`}
	rec.Groups = []string{`CN=Backup Servers\, EU,OU=Groups`, "x\ty"}
	rec.Service = "svc]name"
	rec.Command = "task.start\x1b[2J"
	rec.SourceIP = netip.MustParseAddr("2001:db8::7")
	return chained(t, rec, 42, GenesisHash)
}

// controlsToFFFD is the control-character substitution of CEF and LEEF.
func controlsToFFFD(s string, keep string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(keep, r) || !isControl(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// parseCEF is a reference CEF reader: 7 header fields split at unescaped
// '|', then key=value pairs where a key starts after a space and ends at
// an unescaped '='.
func parseCEF(t *testing.T, line string) (header []string, ext map[string]string) {
	t.Helper()
	var cur strings.Builder
	i := 0
	for ; i < len(line) && len(header) < 7; i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(header) != 7 {
		t.Fatalf("CEF header has %d fields: %q", len(header), line)
	}
	ext = map[string]string{}
	rest := line[i:]
	// Split at " key=" boundaries where '=' is unescaped.
	var keys []int
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' {
			j++
			continue
		}
		if rest[j] == '=' {
			k := j - 1
			for k >= 0 && (unicode.IsLetter(rune(rest[k])) || unicode.IsDigit(rune(rest[k])) || rest[k] == '.') {
				k--
			}
			if k < 0 || rest[k] == ' ' {
				keys = append(keys, k+1)
			}
		}
	}
	for n, start := range keys {
		end := len(rest)
		if n+1 < len(keys) {
			end = keys[n+1] - 1
		}
		kv := rest[start:end]
		eq := strings.IndexByte(kv, '=')
		v := strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r").Replace(kv[eq+1:])
		ext[kv[:eq]] = v
	}
	return header, ext
}

func TestCEFEscaping(t *testing.T) {
	rec, _ := hostileRecord(t)
	line := string(appendCEF(nil, &rec, "1.0|beta\\x"))
	if strings.ContainsAny(line, "\n\r\x1b") {
		t.Fatalf("raw control character in CEF: %q", line)
	}
	header, ext := parseCEF(t, line)
	wantHeader := []string{"CEF:0", "zapgate", "zapgate", `1.0|beta\x`, "authz.request", "authz.request failure", "5"}
	for i, w := range wantHeader {
		if header[i] != w {
			t.Errorf("header[%d] = %q, want %q", i, header[i], w)
		}
	}
	want := map[string]string{
		"suser":      controlsToFFFD(rec.User, "\n\r"),
		"reason":     rec.Reason,
		"cs1":        `["a,b","c\"d"]`,
		"cs1Label":   "userRoles",
		"cs2":        `["CN=Backup Servers\\, EU,OU=Groups","x\ty"]`,
		"cs3":        "svc]name",
		"cs4":        controlsToFFFD(rec.Command, ""),
		"c6a2":       "2001:db8::7",
		"outcome":    "failure",
		"externalId": rec.ID,
		"cn1":        "42",
		"rt":         "1795615402123",
	}
	for k, w := range want {
		if ext[k] != w {
			t.Errorf("%s = %q, want %q\nline: %s", k, ext[k], w, line)
		}
	}
	if _, ok := ext["SPOOFED"]; ok {
		t.Errorf("a value forged an extension key: %s", line)
	}
}

// parseLEEF is a reference LEEF 2.0 reader.
func parseLEEF(t *testing.T, line string) (header []string, attrs map[string]string) {
	t.Helper()
	var cur strings.Builder
	i := 0
	for ; i < len(line) && len(header) < 6; i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(header) != 6 || header[5] != "x09" {
		t.Fatalf("LEEF header %q", header)
	}
	attrs = map[string]string{}
	for _, kv := range strings.Split(line[i:], "\t") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("attribute without '=': %q in %q", kv, line)
		}
		if _, dup := attrs[k]; dup {
			t.Fatalf("duplicate key %q", k)
		}
		attrs[k] = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(v)
	}
	return header, attrs
}

func TestLEEFEscaping(t *testing.T) {
	rec, _ := hostileRecord(t)
	line := string(appendLEEF(nil, &rec, "2.0"))
	if strings.ContainsAny(line, "\n\r\x1b") {
		t.Fatalf("raw control character in LEEF: %q", line)
	}
	header, attrs := parseLEEF(t, line)
	if strings.Join(header, "|") != "LEEF:2.0|zapgate|zapgate|2.0|authz.request|x09" {
		t.Errorf("header %q", header)
	}
	want := map[string]string{
		"usrName":       controlsToFFFD(rec.User, "\n\r\t"),
		"reason":        rec.Reason,
		"roles":         `["a,b","c\"d"]`,
		"groups":        `["CN=Backup Servers\\, EU,OU=Groups","x\ty"]`,
		"service":       "svc]name",
		"src":           "2001:db8::7",
		"sev":           "5",
		"cat":           "authz",
		"devTime":       "2026-11-25T14:03:22.123Z",
		"devTimeFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
		"auditSeq":      "42",
		"eventId":       rec.ID,
	}
	for k, w := range want {
		if attrs[k] != w {
			t.Errorf("%s = %q, want %q", k, attrs[k], w)
		}
	}
}

func TestExportFormats(t *testing.T) {
	rec, line := hostileRecord(t)
	e := &Entry{Record: rec, Line: line}
	for _, f := range []Format{FormatJSONL, FormatECS, FormatCEF, FormatLEEF} {
		var buf bytes.Buffer
		x := NewExporter(&buf, f, "")
		must(t, x.Write(e))
		must(t, x.Flush())
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: not exactly one line: %q", f, out)
		}
		switch f {
		case FormatJSONL:
			if out != string(line)+"\n" {
				t.Errorf("jsonl changed the line")
			}
		case FormatECS:
			var doc map[string]any
			must(t, json.Unmarshal([]byte(out), &doc))
			user := doc["user"].(map[string]any)
			ev := doc["event"].(map[string]any)
			zg := doc["zapgate"].(map[string]any)
			if user["name"] != rec.User || ev["action"] != "authz.request" || ev["outcome"] != "failure" ||
				ev["sequence"].(float64) != 42 || doc["ecs"].(map[string]any)["version"] != ECSVersion ||
				zg["audit"].(map[string]any)["hash"] != rec.Hash || ev["type"].([]any)[0] != "denied" {
				t.Errorf("ecs: %s", out)
			}
		case FormatCEF:
			if !strings.HasPrefix(out, "CEF:0|zapgate|zapgate|devel|") {
				t.Errorf("cef: %s", out)
			}
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestFilter(t *testing.T) {
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := Record{Time: base, Action: "authz.request", Outcome: OutcomeFailure, User: "PROXY01$"}
	cases := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Since: base}, true},
		{Filter{Since: base.Add(time.Second)}, false},
		{Filter{Until: base}, false},
		{Filter{Until: base.Add(time.Second)}, true},
		{Filter{Actions: []string{"authz.*"}}, true},
		{Filter{Actions: []string{"authn.*", "authz.request"}}, true},
		{Filter{Actions: []string{"authz.req"}}, false},
		{Filter{Outcome: OutcomeSuccess}, false},
		{Filter{Outcome: OutcomeFailure, Principal: "PROXY01$"}, true},
		{Filter{Principal: "proxy01$"}, false},
	}
	for i, c := range cases {
		if got := c.f.Match(&r); got != c.want {
			t.Errorf("case %d %+v: %v", i, c.f, got)
		}
	}
}

func TestParseTimeAndOutcome(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T10:00:00Z": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"yesterday", "-5h", "7x", "1.5d"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]Outcome{"deny": OutcomeFailure, "ALLOW": OutcomeSuccess, "unknown": OutcomeUnknown, "": ""} {
		if got, err := ParseOutcome(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseOutcome("maybe"); err == nil {
		t.Error("maybe accepted")
	}
}

func TestFormatLineQuotesHostileValues(t *testing.T) {
	rec, _ := hostileRecord(t)
	out := FormatLine(&rec)
	for _, r := range out {
		if !unicode.IsPrint(r) {
			t.Fatalf("non-printable %U in %q", r, out)
		}
	}
	for _, want := range []string{"#42 authz.request failure", `user="evil|user=x\\y\nline2\ttab"`, `roles="a,b,c\"d"`, "src=2001:db8::7"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q lacks %q", out, want)
		}
	}
	plain := FormatLine(&Record{Time: time.Unix(0, 0), Seq: 1, Action: "authn.connect", Outcome: OutcomeSuccess, User: "PROXY01$", Roles: []string{"proxy", "backup-server"}})
	if plain != "1970-01-01T00:00:00.000Z #1 authn.connect success user=PROXY01$ roles=proxy,backup-server" {
		t.Errorf("plain line %q", plain)
	}
}
