package zap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// Fuzz inputs carry a list of frames as repeated [2-byte big-endian length,
// bytes]; a truncated tail becomes the last frame. Seeds live in
// testdata/fuzz/<FuzzName>/.

func splitFrames(data []byte) [][]byte {
	frames := [][]byte{}
	for len(data) > 0 {
		if len(data) < 2 {
			frames = append(frames, data)
			break
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		n = min(n, len(data))
		frames = append(frames, data[:n])
		data = data[n:]
	}
	return frames
}

func checkProtocolError(t *testing.T, err error) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ProtocolError", err, err)
	}
	if pe.Err == nil || pe.Error() == "" {
		t.Fatalf("incomplete ProtocolError %#v", pe)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := splitFrames(data)
		req, err := ParseRequest(in)
		if err != nil {
			checkProtocolError(t, err)
			return
		}
		out, err := req.Frames()
		if err != nil {
			t.Fatalf("parsed request does not encode: %v", err)
		}
		if !equalFrames(in, out) {
			t.Fatalf("round trip %q, want %q", out, in)
		}
		if req.Mechanism == MechanismCurve {
			if _, ok := req.CurveKey(); !ok {
				t.Fatal("CURVE request without a key")
			}
		}
	})
}

func FuzzParseReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := splitFrames(data)
		rep, err := ParseReply(in)
		if err != nil {
			checkProtocolError(t, err)
			return
		}
		out, err := rep.Frames()
		if err != nil {
			t.Fatalf("parsed reply does not encode: %v", err)
		}
		if !equalFrames(in, out) {
			t.Fatalf("round trip %q, want %q", out, in)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := ParseMetadata(data)
		if err != nil {
			checkProtocolError(t, err)
			return
		}
		out, err := EncodeMetadata(props)
		if err != nil {
			t.Fatalf("parsed metadata does not encode: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("round trip % x, want % x", out, data)
		}
	})
}
