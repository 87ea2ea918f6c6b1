package zap

import (
	"errors"
	"fmt"
)

// ErrTemporary marks an Authenticator error as temporary: the server answers
// 300 (the client retries) instead of 500. Wrap it with %w.
var ErrTemporary = errors.New("zap: temporary failure")

// Sentinel causes carried by ProtocolError; test for them with errors.Is.
var (
	// ErrFrameCount means a message has too few or too many frames.
	ErrFrameCount = errors.New("zap: wrong number of frames")
	// ErrVersion means the version frame is not "1.0".
	ErrVersion = errors.New("zap: unsupported version")
	// ErrMechanism means the mechanism is not NULL, PLAIN or CURVE.
	ErrMechanism = errors.New("zap: unknown mechanism")
	// ErrCredentials means the credential frames do not fit the mechanism.
	ErrCredentials = errors.New("zap: malformed credentials")
	// ErrText means a text field is not valid UTF-8, holds control
	// characters or is too long.
	ErrText = errors.New("zap: invalid text")
	// ErrStatus means a status code is not 200, 300, 400 or 500.
	ErrStatus = errors.New("zap: invalid status code")
	// ErrMetadata means a metadata block is malformed.
	ErrMetadata = errors.New("zap: invalid metadata")
)

// ProtocolError describes one malformed field of a ZAP request, a ZAP reply
// or a ZMTP metadata block. It unwraps to one of the Err* sentinels.
type ProtocolError struct {
	// Message is "request", "reply" or "metadata".
	Message string
	// Frame is the index of the offending frame in the frames given to the
	// parser or produced by the encoder, or -1 for a metadata block.
	Frame int
	// Offset is the byte offset inside a metadata block, or -1.
	Offset int
	// Field names the field: "delimiter", "version", "request id", "domain", "address",
	// "identity", "mechanism", "credentials", "status code", "status text",
	// "user id", "metadata", "property name", "property value" or "frames".
	Field string
	// Detail says what is wrong, for logs.
	Detail string
	// Err is the sentinel cause.
	Err error
}

// Error formats the location and the cause.
func (e *ProtocolError) Error() string {
	loc := e.Message
	if e.Frame >= 0 {
		loc += fmt.Sprintf(" frame %d", e.Frame)
	}
	if e.Offset >= 0 {
		loc += fmt.Sprintf(" offset %d", e.Offset)
	}
	return fmt.Sprintf("zap: %s (%s): %s", loc, e.Field, e.Detail)
}

// Unwrap returns the sentinel cause.
func (e *ProtocolError) Unwrap() error { return e.Err }

func frameError(msg string, frame int, field string, cause error, format string, args ...any) *ProtocolError {
	return &ProtocolError{
		Message: msg, Frame: frame, Offset: -1, Field: field,
		Detail: fmt.Sprintf(format, args...), Err: cause,
	}
}

func metadataError(offset int, field string, format string, args ...any) *ProtocolError {
	return &ProtocolError{
		Message: "metadata", Frame: -1, Offset: offset, Field: field,
		Detail: fmt.Sprintf(format, args...), Err: ErrMetadata,
	}
}
