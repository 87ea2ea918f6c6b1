package zap

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Version is the only ZAP version RFC 27 defines.
const Version = "1.0"

// Mechanism names a ZAP request may carry.
const (
	MechanismNull  = "NULL"
	MechanismPlain = "PLAIN"
	MechanismCurve = "CURVE"
)

// Size limits the codec enforces.
const (
	// MaxFieldLen bounds the request id, domain, address, identity, PLAIN
	// credentials and status text (ZMQ_ZAP_DOMAIN and routing ids are at most
	// 255 bytes in libzmq; PLAIN encodes lengths in one byte).
	MaxFieldLen = 255
	// MaxUserIDLen bounds the user id of a reply.
	MaxUserIDLen = 1024
	// CurveKeyLen is the length of a CURVE long-term public key.
	CurveKeyLen = 32
)

// Frame indexes of a request, after the routing envelope.
const (
	reqVersion = iota
	reqID
	reqDomain
	reqAddress
	reqIdentity
	reqMechanism
	reqCredentials
)

// ParseRequest decodes a ZAP request (RFC 27) from its frames after the
// routing envelope (routing id and empty delimiter already stripped):
// version "1.0", request id, domain, address, identity, mechanism, then
// credentials: none for NULL, username and password for PLAIN, one 32-byte
// public key for CURVE. Every malformed input yields a *ProtocolError. The
// returned Request aliases frames.
func ParseRequest(frames [][]byte) (*Request, error) {
	if len(frames) < reqCredentials {
		return nil, frameError("request", len(frames), "frames", ErrFrameCount,
			"got %d frames, need at least %d", len(frames), reqCredentials)
	}
	if string(frames[reqVersion]) != Version {
		return nil, frameError("request", reqVersion, "version", ErrVersion,
			"got %q, want %q", truncate(frames[reqVersion]), Version)
	}
	if err := checkBytes("request", reqID, "request id", frames[reqID], MaxFieldLen); err != nil {
		return nil, err
	}
	if err := checkText("request", reqDomain, "domain", frames[reqDomain], MaxFieldLen); err != nil {
		return nil, err
	}
	if err := checkText("request", reqAddress, "address", frames[reqAddress], MaxFieldLen); err != nil {
		return nil, err
	}
	if err := checkBytes("request", reqIdentity, "identity", frames[reqIdentity], MaxFieldLen); err != nil {
		return nil, err
	}
	mech := string(frames[reqMechanism])
	creds := frames[reqCredentials:]
	if err := checkCredentials(mech, creds); err != nil {
		return nil, err
	}
	return &Request{
		Version:     Version,
		RequestID:   frames[reqID],
		Domain:      string(frames[reqDomain]),
		Address:     string(frames[reqAddress]),
		Identity:    frames[reqIdentity],
		Mechanism:   mech,
		Credentials: creds,
	}, nil
}

func checkCredentials(mech string, creds [][]byte) error {
	want := 0
	switch mech {
	case MechanismNull:
		want = 0
	case MechanismPlain:
		want = 2
	case MechanismCurve:
		want = 1
	default:
		return frameError("request", reqMechanism, "mechanism", ErrMechanism,
			"got %q, want NULL, PLAIN or CURVE", truncate([]byte(mech)))
	}
	if len(creds) != want {
		return frameError("request", reqCredentials+min(len(creds), want), "credentials", ErrFrameCount,
			"%s needs %d credential frames, got %d", mech, want, len(creds))
	}
	for i, c := range creds {
		if mech == MechanismCurve && len(c) != CurveKeyLen {
			return frameError("request", reqCredentials+i, "credentials", ErrCredentials,
				"CURVE key is %d bytes, want %d", len(c), CurveKeyLen)
		}
		if len(c) > MaxFieldLen {
			return frameError("request", reqCredentials+i, "credentials", ErrCredentials,
				"credential of %d bytes exceeds %d", len(c), MaxFieldLen)
		}
	}
	return nil
}

// Frames encodes r as ZAP request frames (without routing envelope), after
// checking it as ParseRequest would. An empty Version means "1.0".
func (r *Request) Frames() ([][]byte, error) {
	version := r.Version
	if version == "" {
		version = Version
	}
	frames := [][]byte{
		[]byte(version), r.RequestID, []byte(r.Domain), []byte(r.Address),
		r.Identity, []byte(r.Mechanism),
	}
	frames = append(frames, r.Credentials...)
	if _, err := ParseRequest(frames); err != nil {
		return nil, err
	}
	return frames, nil
}

// Reply is a ZAP reply (RFC 27).
type Reply struct {
	// Version is the protocol version; it must be "1.0".
	Version string
	// RequestID echoes the request's id.
	RequestID []byte
	// Status is the reply code.
	Status Status
	// StatusText is a short, non-sensitive reason.
	StatusText string
	// UserID is the authenticated principal; only a 200 reply may set it.
	UserID string
	// Metadata is attached to the connection; only a 200 reply may set it.
	Metadata Properties
}

// Frame indexes of a reply after the routing id: libzmq reads exactly 7
// frames, an empty delimiter and the 6 fields of RFC 27.
const (
	repDelimiter = iota
	repVersion
	repID
	repStatus
	repText
	repUserID
	repMetadata
	replyFrames
)

// Frames encodes the reply as exactly the 7 frames libzmq reads after the
// routing id: an empty delimiter, then version, request id, status code,
// status text, user id and metadata. A ROUTER handler sends the peer's
// routing id followed by these frames. Frames refuses what libzmq or RFC 27
// would reject, and a non-200 reply that carries a user id or metadata.
func (r Reply) Frames() ([][]byte, error) {
	if r.Version != Version {
		return nil, frameError("reply", repVersion, "version", ErrVersion, "got %q, want %q", r.Version, Version)
	}
	if err := checkBytes("reply", repID, "request id", r.RequestID, MaxFieldLen); err != nil {
		return nil, err
	}
	if !r.Status.Valid() {
		return nil, frameError("reply", repStatus, "status code", ErrStatus, "got %d", int(r.Status))
	}
	if err := checkText("reply", repText, "status text", []byte(r.StatusText), MaxFieldLen); err != nil {
		return nil, err
	}
	if err := checkText("reply", repUserID, "user id", []byte(r.UserID), MaxUserIDLen); err != nil {
		return nil, err
	}
	if r.Status != StatusOK && (r.UserID != "" || len(r.Metadata) > 0) {
		return nil, frameError("reply", repUserID, "user id", ErrStatus,
			"a %d reply must not carry a user id or metadata", int(r.Status))
	}
	meta, err := EncodeMetadata(r.Metadata)
	if err != nil {
		return nil, metadataFrameError(repMetadata, err)
	}
	return [][]byte{
		{}, []byte(Version), r.RequestID, []byte(r.Status.String()),
		[]byte(r.StatusText), []byte(r.UserID), meta,
	}, nil
}

// ParseReply decodes a ZAP reply from the 7 frames that follow the routing
// id (empty delimiter first), as Reply.Frames produces them, with the same
// checks. It is meant for tests and tools.
func ParseReply(frames [][]byte) (*Reply, error) {
	if len(frames) != replyFrames {
		return nil, frameError("reply", min(len(frames), replyFrames), "frames", ErrFrameCount,
			"got %d frames, want %d", len(frames), replyFrames)
	}
	if len(frames[repDelimiter]) != 0 {
		return nil, frameError("reply", repDelimiter, "delimiter", ErrFrameCount,
			"delimiter frame of %d bytes, want empty", len(frames[repDelimiter]))
	}
	status, ok := parseStatus(frames[repStatus])
	if !ok {
		return nil, frameError("reply", repStatus, "status code", ErrStatus,
			"got %q, want 200, 300, 400 or 500", truncate(frames[repStatus]))
	}
	meta, err := ParseMetadata(frames[repMetadata])
	if err != nil {
		return nil, metadataFrameError(repMetadata, err)
	}
	r := Reply{
		Version:    string(frames[repVersion]),
		RequestID:  frames[repID],
		Status:     status,
		StatusText: string(frames[repText]),
		UserID:     string(frames[repUserID]),
		Metadata:   meta,
	}
	if _, err := r.Frames(); err != nil {
		return nil, err
	}
	return &r, nil
}

// metadataFrameError locates a metadata error in a reply frame; it still
// unwraps to the metadata *ProtocolError and ErrMetadata.
func metadataFrameError(frame int, err error) error {
	detail := err.Error()
	var pe *ProtocolError
	if errors.As(err, &pe) {
		detail = pe.Field + ": " + pe.Detail
		if pe.Offset >= 0 {
			detail = fmt.Sprintf("%s at offset %d: %s", pe.Field, pe.Offset, pe.Detail)
		}
	}
	return frameError("reply", frame, "metadata", err, "%s", detail)
}

func parseStatus(b []byte) (Status, bool) {
	switch string(b) {
	case "200":
		return StatusOK, true
	case "300":
		return StatusTempFail, true
	case "400":
		return StatusDenied, true
	case "500":
		return StatusInternal, true
	}
	return 0, false
}

// checkBytes bounds an opaque field.
func checkBytes(msg string, frame int, field string, b []byte, max int) error {
	if len(b) > max {
		return frameError(msg, frame, field, ErrText, "%d bytes exceed %d", len(b), max)
	}
	return nil
}

// checkText requires valid UTF-8 without control characters, at most max
// bytes. Control characters (NUL in particular) would be cut or misread by
// consumers that treat values as C strings or log lines.
func checkText(msg string, frame int, field string, b []byte, max int) error {
	if err := checkBytes(msg, frame, field, b, max); err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return frameError(msg, frame, field, ErrText, "not valid UTF-8")
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return frameError(msg, frame, field, ErrText, "control character %U", r)
		}
	}
	return nil
}

// truncate shortens untrusted bytes for error messages.
func truncate(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
