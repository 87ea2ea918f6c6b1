package fileerr

import "testing"

func TestFormat(t *testing.T) {
	es := Errors{{File: "a.yaml", Line: 3, Msg: "unknown key \"x\""}, {File: "a.yaml", Msg: "empty"}}
	if got, want := es.Error(), "a.yaml:3: unknown key \"x\"\na.yaml: empty"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
