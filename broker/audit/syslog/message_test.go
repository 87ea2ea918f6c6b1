package syslog

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/syslog/syslogtest"
)

func testEntry() *audit.Entry {
	r := audit.Record{
		Time: time.Date(2026, 11, 25, 14, 3, 22, 123456000, time.UTC), ID: "01a21304-a88b-7ca4-83eb-da115d1bb93a",
		Action: audit.ActionRequest, Outcome: audit.OutcomeFailure, Reason: `role "proxy" may not] \ task.start`,
		User: "PROXY01$", Roles: []string{"proxy", "x]y"}, Groups: []string{"CN=G,DC=x"}, SourceIP: netip.MustParseAddr("10.0.0.5"),
		Service: "repository", Command: "task.start", Seq: 42, PrevHash: strings.Repeat("0", 64), Hash: strings.Repeat("ab", 32),
	}
	return &audit.Entry{Record: r, Line: []byte(`{"the":"stored line"}`)}
}

func TestAppendMessage(t *testing.T) {
	h := Header{Facility: 10, Hostname: "broker 1", AppName: "zapgate", ProcID: "4242"}
	msg := string(AppendMessage(nil, &h, testEntry()))
	wantPrefix := "<84>1 2026-11-25T14:03:22.123456Z broker?1 zapgate 4242 authz.request [zapgate@32473 audit.seq=\"42\" "
	if !strings.HasPrefix(msg, wantPrefix) {
		t.Fatalf("message:\n%s\nwant prefix:\n%s", msg, wantPrefix)
	}
	for _, want := range []string{
		`event.reason="role \"proxy\" may not\] \\ task.start"`,
		`user.roles="proxy" user.roles="x\]y"`,
		`source.ip="10.0.0.5"`,
		`audit.hash="` + strings.Repeat("ab", 32) + `"]`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "zapgate.groups") {
		t.Error("groups belong in MSG only")
	}
	m, err := syslogtest.ParseMessage([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if m.PRI != 84 || m.MsgID != "authz.request" || string(m.Msg) != `{"the":"stored line"}` || !strings.HasPrefix(m.SD, "[zapgate@32473 ") {
		t.Errorf("parsed %+v", m)
	}
}

func TestSeverityAndFacility(t *testing.T) {
	r := audit.Record{Outcome: audit.OutcomeSuccess}
	if Severity(&r) != 6 {
		t.Error("success")
	}
	r.Outcome = audit.OutcomeFailure
	if Severity(&r) != 4 {
		t.Error("failure")
	}
	r.Severity = audit.SeverityCritical
	if Severity(&r) != 2 {
		t.Error("explicit")
	}
	for name, want := range map[string]int{"authpriv": 10, "LOCAL0": 16, "local7": 23, "auth": 4} {
		if got, err := ParseFacility(name); err != nil || got != want {
			t.Errorf("%s: %d %v", name, got, err)
		}
	}
	if _, err := ParseFacility("local8"); err == nil {
		t.Error("local8 accepted")
	}
}
