package keyaudit

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zapgate/zapgate/certs"
)

// FuzzStateFile: keys.state is read back at every start. Whatever its
// bytes (a torn write, a hand edit, a disk error), New either refuses it
// with an error or yields a state that the next registry load can be
// compared with: no panic, and every record of that comparison is a
// registry action.
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"bound":{}}`))
	f.Add([]byte(`{"version":1,"bound":{"k":{"state":"bound","principal":"A$","owner":-1}},"revoked":{"r":{}}}`))
	f.Add([]byte(`{"version":1,"missing":true,"dir_error":"x"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	pub, _, err := certs.GenerateKeypair()
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	snap := certs.Snapshot{Dir: dir, Bound: map[certs.PublicKey]certs.Binding{
		pub: {Key: pub, Principal: "PROXY01$", File: filepath.Join(dir, "proxy01.key"), Owner: 0, Expires: time.Unix(1e9, 0)},
	}, Refused: map[string]string{"bad.key": "malformed"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		state := filepath.Join(t.TempDir(), StateFileName)
		if err := os.WriteFile(state, data, 0o600); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		a, err := New(Options{Audit: rec, StateFile: state, Logger: quiet})
		if err != nil {
			return
		}
		a.Observe(snap)
		a.Observe(certs.Snapshot{Dir: dir, Missing: true})
		for _, r := range rec.take() {
			switch r.Action {
			case ActionAdd, ActionRevoke, ActionChange, ActionRemove, ActionError:
			default:
				t.Fatalf("unexpected action %q", r.Action)
			}
		}
	})
}
