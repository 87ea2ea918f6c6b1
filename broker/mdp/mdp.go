package mdp

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Protocol headers.
const (
	// ClientHeader identifies MDP client messages (MDPC01).
	ClientHeader = "MDPC01"
	// WorkerHeader identifies MDP worker messages (MDPW01).
	WorkerHeader = "MDPW01"
)

// Command is an MDPW01 command byte.
type Command byte

// The MDPW01 commands.
const (
	// Ready: worker → broker, announces the service it serves.
	Ready Command = 0x01
	// Request: broker → worker, carries a client request.
	Request Command = 0x02
	// Reply: worker → broker, carries the reply to a request.
	Reply Command = 0x03
	// Heartbeat: both directions.
	Heartbeat Command = 0x04
	// Disconnect: both directions; the peer must drop the connection.
	Disconnect Command = 0x05
)

// String names the command.
func (c Command) String() string {
	switch c {
	case Ready:
		return "READY"
	case Request:
		return "REQUEST"
	case Reply:
		return "REPLY"
	case Heartbeat:
		return "HEARTBEAT"
	case Disconnect:
		return "DISCONNECT"
	}
	return fmt.Sprintf("0x%02x", byte(c))
}

// Limits applied by the parser.
const (
	// MaxServiceLen bounds a service name.
	MaxServiceLen = 255
	// MaxAddressLen bounds a client address in a worker REPLY (libzmq
	// routing ids are at most 255 bytes).
	MaxAddressLen = 255
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("mdp: malformed message")

// Message is one parsed message from a peer. Exactly one of the shapes is
// filled, as told by Header and (for workers) Command.
type Message struct {
	// Header is ClientHeader or WorkerHeader.
	Header string
	// Command is the worker command (worker messages only).
	Command Command
	// Service is the requested service (client requests) or the service a
	// worker announces (READY).
	Service string
	// Client is the client's routing id a worker REPLY is addressed to.
	Client []byte
	// Body is the request or reply body. For client requests and worker
	// replies the first body frame is the command name by zapgate's
	// convention; the codec does not enforce it.
	Body [][]byte
}

// Parse decodes the frames a broker ROUTER receives after the routing id:
// an empty delimiter, the header, then the protocol's frames.
func Parse(frames [][]byte) (*Message, error) {
	if len(frames) < 2 {
		return nil, fmt.Errorf("%w: %d frames, want at least delimiter and header", ErrMalformed, len(frames))
	}
	if len(frames[0]) != 0 {
		return nil, fmt.Errorf("%w: frame 0 must be the empty delimiter", ErrMalformed)
	}
	switch string(frames[1]) {
	case ClientHeader:
		return parseClient(frames[2:])
	case WorkerHeader:
		return parseWorker(frames[2:])
	}
	return nil, fmt.Errorf("%w: unknown protocol header %q", ErrMalformed, truncate(frames[1]))
}

func parseClient(f [][]byte) (*Message, error) {
	if len(f) < 1 {
		return nil, fmt.Errorf("%w: client request without a service frame", ErrMalformed)
	}
	svc, err := service(f[0])
	if err != nil {
		return nil, err
	}
	return &Message{Header: ClientHeader, Service: svc, Body: f[1:]}, nil
}

func parseWorker(f [][]byte) (*Message, error) {
	if len(f) < 1 || len(f[0]) != 1 {
		return nil, fmt.Errorf("%w: worker message without a one-byte command", ErrMalformed)
	}
	m := &Message{Header: WorkerHeader, Command: Command(f[0][0])}
	rest := f[1:]
	switch m.Command {
	case Ready:
		if len(rest) != 1 {
			return nil, fmt.Errorf("%w: READY wants exactly a service frame, got %d frames", ErrMalformed, len(rest))
		}
		svc, err := service(rest[0])
		if err != nil {
			return nil, err
		}
		m.Service = svc
	case Reply:
		if len(rest) < 2 || len(rest[1]) != 0 {
			return nil, fmt.Errorf("%w: REPLY wants client address, empty frame, body", ErrMalformed)
		}
		if len(rest[0]) == 0 || len(rest[0]) > MaxAddressLen {
			return nil, fmt.Errorf("%w: REPLY client address of %d bytes", ErrMalformed, len(rest[0]))
		}
		m.Client, m.Body = rest[0], rest[2:]
	case Heartbeat, Disconnect:
		if len(rest) != 0 {
			return nil, fmt.Errorf("%w: %s takes no frames, got %d", ErrMalformed, m.Command, len(rest))
		}
	case Request:
		return nil, fmt.Errorf("%w: REQUEST is sent by brokers, not workers", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: unknown worker command %s", ErrMalformed, m.Command)
	}
	return m, nil
}

func service(b []byte) (string, error) {
	if len(b) == 0 || len(b) > MaxServiceLen {
		return "", fmt.Errorf("%w: service name of %d bytes (1..%d)", ErrMalformed, len(b), MaxServiceLen)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%w: service name is not UTF-8", ErrMalformed)
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%w: service name has a control character", ErrMalformed)
		}
	}
	return string(b), nil
}

func truncate(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "…"
	}
	return string(b)
}
