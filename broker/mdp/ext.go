package mdp

import (
	"fmt"
	"strconv"
	"strings"
)

// zapgate's extension of MDP 0.2 (docs/protocol.md). It adds no frames to
// the Majordomo messages themselves: every extension message is an
// ordinary MDPC01 request or reply on a reserved service name, so any
// Majordomo client can use it.
const (
	// ServicePublish is the service a client sends [topic, payload...] to
	// in order to publish a job-status event.
	ServicePublish = "zapgate.publish"
	// ServiceSubscribe is the service a client sends [pattern] to in order
	// to subscribe to topics matching pattern.
	ServiceSubscribe = "zapgate.subscribe"
	// ServiceUnsubscribe is the service a client sends [pattern] to in
	// order to cancel a subscription.
	ServiceUnsubscribe = "zapgate.unsubscribe"
	// ServiceEvent is the service of the unsolicited MDPC01 messages that
	// carry events ([topic, publisher, payload...]) and subscription
	// endings (a refusal body) to subscribers.
	ServiceEvent = "zapgate.event"
	// ServiceMMI is the Majordomo Management Interface's service lookup.
	ServiceMMI = "mmi.service"

	// ReservedPrefix starts every broker-owned service name, topic and
	// status frame. Workers cannot register such services or send replies
	// whose first frame starts with it, and nodes cannot publish on such
	// topics, so a frame starting with it always comes from the broker.
	ReservedPrefix = "zapgate."
	// MMIPrefix starts the Majordomo Management Interface's services.
	MMIPrefix = "mmi."

	// ErrorFrame is the first body frame of a broker refusal:
	// [ErrorFrame, code, reason, detail].
	ErrorFrame = "zapgate.error"
	// OKFrame is the first body frame of an acknowledgement of publish,
	// subscribe and unsubscribe.
	OKFrame = "zapgate.ok"
)

// Refusal codes, modelled on HTTP status codes.
const (
	// CodeMalformed (400): the message breaks MDP or zapgate's rules.
	CodeMalformed = 400
	// CodeForbidden (403): the policy does not allow the action.
	CodeForbidden = 403
	// CodeNoWorker (404): no worker for the service within the wait.
	CodeNoWorker = 404
	// CodeInternal (500): the broker could not decide or could not write
	// the audit record; the action was not performed.
	CodeInternal = 500
	// CodeBadReply (502): the worker's reply was refused.
	CodeBadReply = 502
	// CodeUnavailable (503): a limit was reached, the worker was lost or
	// the broker is shutting down.
	CodeUnavailable = 503
)

// Refusal reason codes: short, stable, machine-readable.
const (
	ReasonMalformed        = "malformed"         // 400
	ReasonReservedService  = "reserved-service"  // 400
	ReasonForbidden        = "forbidden"         // 403
	ReasonNoWorker         = "no-worker"         // 404
	ReasonInternal         = "internal"          // 500: authorization failed technically
	ReasonAuditUnavailable = "audit-unavailable" // 500
	ReasonWorkerRefused    = "worker-refused"    // 502: the worker lost its authorization
	ReasonReservedFrame    = "reserved-frame"    // 502: the worker forged a broker frame
	ReasonQueueFull        = "queue-full"        // 503
	ReasonOverloaded       = "overloaded"        // 503
	ReasonBusy             = "busy"              // 503: workers exist, none took it in time
	ReasonWorkerLost       = "worker-lost"       // 503: outcome unknown
	ReasonShuttingDown     = "shutting-down"     // 503
	ReasonSlowSubscriber   = "slow-subscriber"   // 503: dropped from fan-out
	ReasonLimit            = "limit"             // 503: too many subscriptions
	ReasonTooLarge         = "message-too-large" // 400: more frames or bytes than the broker takes
	ReasonShutOut          = "shut-out"          // 403: the key offended repeatedly and is shut out for a while
	ReasonReconnect        = "reconnect"         // 503: the connection has no broker-minted routing id; open a new one
)

// Refusal is a broker-generated refusal, sent as the body
// [ErrorFrame, code, reason, detail] of an MDPC01 reply.
type Refusal struct {
	// Code is one of the Code constants (HTTP-like).
	Code int
	// Reason is one of the Reason constants.
	Reason string
	// Detail says what was refused in words, e.g. `request service
	// "proxy" command "task.start"`; it never carries internal causes.
	Detail string
}

// Body returns the refusal's body frames.
func (r Refusal) Body() [][]byte {
	return [][]byte{[]byte(ErrorFrame), []byte(strconv.Itoa(r.Code)), []byte(r.Reason), []byte(r.Detail)}
}

// Error describes the refusal, e.g. "403 forbidden: request ...".
func (r Refusal) Error() string {
	if r.Detail == "" {
		return fmt.Sprintf("%d %s", r.Code, r.Reason)
	}
	return fmt.Sprintf("%d %s: %s", r.Code, r.Reason, r.Detail)
}

// ParseRefusal reports whether body is a broker refusal and decodes it.
// A body whose first frame is ErrorFrame but whose other frames are
// malformed is still a refusal: code 0 if the code is not three digits,
// missing frames empty.
func ParseRefusal(body [][]byte) (Refusal, bool) {
	if len(body) == 0 || string(body[0]) != ErrorFrame {
		return Refusal{}, false
	}
	var r Refusal
	if len(body) > 1 && len(body[1]) == 3 {
		if n, err := strconv.Atoi(string(body[1])); err == nil && n >= 100 {
			r.Code = n
		}
	}
	if len(body) > 2 {
		r.Reason = string(body[2])
	}
	if len(body) > 3 {
		r.Detail = string(body[3])
	}
	return r, true
}

// Reserved reports whether a service name or topic belongs to the broker
// (starts with ReservedPrefix or MMIPrefix).
func Reserved(name string) bool {
	return strings.HasPrefix(name, ReservedPrefix) || strings.HasPrefix(name, MMIPrefix)
}
