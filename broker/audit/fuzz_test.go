package audit

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadRecord feeds arbitrary lines to ParseRecord: it must never
// panic, must accept only lines that are exactly the canonical encoding of
// what it returns (so nothing unhashed slips through), and every export
// of an accepted record must stay on one line.
func FuzzReadRecord(f *testing.F) {
	rec := sampleRecord(1)
	rec.Reason = "a|b=c\\d\ne\tf"
	_, line := chainedF(f, rec, 1)
	f.Add(line)
	f.Add([]byte(`{"@timestamp":"2026-11-25T14:03:22.000000Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := ParseRecord(data)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		canon, hash := encodeLine(&rec)
		if !bytes.Equal(canon, data) || hash != rec.Hash {
			t.Fatalf("accepted a line that is not its canonical encoding:\n%q\n%q", data, canon)
		}
		for _, out := range [][]byte{appendCEF(nil, &rec, "v"), appendLEEF(nil, &rec, "v"), []byte(FormatLine(&rec))} {
			if bytes.ContainsAny(out, "\n\r") {
				t.Fatalf("export breaks the line: %q", out)
			}
		}
		if _, err := appendECS(nil, &rec); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzRecoverScan feeds arbitrary file contents to the crash-recovery
// scanner: no panic, and when it accepts a file as "good records then a
// torn tail", the good part alone scans clean.
func FuzzRecoverScan(f *testing.F) {
	_, l1 := chainedF(f, sampleRecord(1), 1)
	f.Add(append(append([]byte{}, l1...), '\n'))
	f.Add(append(append(append([]byte{}, l1...), '\n'), l1[:50]...))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := scanLines(bytes.NewReader(data), "seg", 0)
		if err != nil {
			return
		}
		if st.good > st.size || st.size != int64(len(data)) || (st.badLine == 0) != (st.good == st.size) {
			t.Fatalf("inconsistent scan %+v for %d bytes", st, len(data))
		}
		again, err := scanLines(bytes.NewReader(data[:st.good]), "seg", 0)
		if err != nil || again.badLine != 0 || again.records != st.records {
			t.Fatalf("good part does not rescan clean: %+v %v", again, err)
		}
	})
}

// chainedF is chained for fuzz seeds.
func chainedF(f *testing.F, rec Record, seq uint64) (Record, []byte) {
	r, err := prepare(rec, testNow)
	if err != nil {
		f.Fatal(err)
	}
	r.Seq, r.PrevHash = seq, GenesisHash
	line, hash := encodeLine(&r)
	r.Hash = hash
	return r, line
}
