package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Kind is what an action does.
type Kind uint8

// The kinds of action. The zero Kind is invalid and always denied.
const (
	// Connect is a CURVE handshake: may this identity connect from
	// Action.Source?
	Connect Kind = iota + 1
	// Serve is a Majordomo worker registering for Action.Service.
	Serve
	// Request is a Majordomo client sending Action.Command to
	// Action.Service.
	Request
	// Publish is a node publishing on Action.Topic.
	Publish
	// Subscribe is a node subscribing to Action.Topic.
	Subscribe
	// Enroll is a person binding a new CURVE key to the principal
	// Action.Target through the enrollment endpoint; the subject is the
	// person approving, not the node.
	Enroll
)

// numKinds bounds the kinds; kind bitmasks are 1<<Kind.
const numKinds = 7

var kindNames = [numKinds]string{"", "connect", "serve", "request", "publish", "subscribe", "enroll"}

// kindList is the list of kind names for error messages.
const kindList = "connect, serve, request, publish, subscribe or enroll"

// String returns the kind's name as written in policy files, or
// "invalid(N)".
func (k Kind) String() string {
	if k > 0 && int(k) < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("invalid(%d)", uint8(k))
}

// ParseKind returns the kind named s ("connect", "serve", "request",
// "publish", "subscribe" or "enroll").
func ParseKind(s string) (Kind, error) {
	for k := Connect; int(k) < numKinds; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("policy: unknown action kind %q (want %s)", s, kindList)
}

// Subject is who acts: the principal the key registry bound the CURVE key
// to, and the groups the directory reports for it. Groups that the policy
// does not name, and strings that are not valid group names, are ignored.
type Subject struct {
	// Principal is the account name, e.g. "PROXY01$" or
	// "svc-backup@corp.example.com"; compared case-insensitively.
	Principal string
	// Groups are AD group DNs ("CN=...,DC=..."), Okta groups
	// ("okta:NAME" or "okta:ID") or plain group names.
	Groups []string
}

// Action is what a subject wants to do. Which fields matter depends on
// Kind: Source for Connect, Service for Serve, Service and Command for
// Request, Topic for Publish and Subscribe, Target for Enroll; the others
// are ignored.
type Action struct {
	// Kind is what the action does.
	Kind Kind
	// Service is the Majordomo service name, e.g. "proxy".
	Service string
	// Command is the request's command, the first body frame, e.g.
	// "task.start".
	Command string
	// Topic is the job-status topic, e.g. "job.status.PROXY01".
	Topic string
	// Source is the peer's IP address; IPv4-mapped IPv6 addresses are
	// treated as IPv4 and zones are dropped.
	Source netip.Addr
	// Target is the principal a key is to be bound to (Enroll), e.g.
	// "PROXY01$"; compared case-insensitively.
	Target string
}

// String describes the action the way explain prints it, e.g.
// `request service "proxy" command "task.start"`.
func (a Action) String() string {
	switch a.Kind {
	case Connect:
		if !a.Source.IsValid() {
			return "connect from an unknown source"
		}
		return "connect from " + normSource(a.Source).String()
	case Serve:
		return fmt.Sprintf("serve service %q", a.Service)
	case Request:
		return fmt.Sprintf("request service %q command %q", a.Service, a.Command)
	case Publish:
		return fmt.Sprintf("publish topic %q", a.Topic)
	case Subscribe:
		return fmt.Sprintf("subscribe topic %q", a.Topic)
	case Enroll:
		return fmt.Sprintf("enroll principal %q", a.Target)
	}
	return fmt.Sprintf("action of %s kind", a.Kind)
}

// check returns why a is malformed, or "" when it can be decided. It does
// not allocate for a well-formed action.
func (a *Action) check() string {
	switch a.Kind {
	case Connect:
		return ""
	case Serve:
		return nameProblem("service", a.Service)
	case Request:
		if p := nameProblem("service", a.Service); p != "" {
			return p
		}
		return nameProblem("command", a.Command)
	case Publish:
		return nameProblem("topic", a.Topic)
	case Subscribe:
		if isPattern(a.Topic) {
			if _, err := compilePattern(a.Topic); err != nil {
				return "subscribe pattern: " + err.Error()
			}
			return ""
		}
		return nameProblem("topic", a.Topic)
	case Enroll:
		return targetProblem(a.Target)
	}
	return "unknown action kind"
}

// maxName bounds service, command and topic names.
const maxName = 1024

// nameProblem checks a concrete name (not a pattern): non-empty, at most
// maxName bytes, no empty dot-separated segment, no '*', no control
// characters.
func nameProblem(what, s string) string {
	switch {
	case s == "":
		return what + " is empty"
	case len(s) > maxName:
		return what + " is longer than 1024 bytes"
	case s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, ".."):
		return what + " has an empty segment"
	case strings.IndexByte(s, '*') >= 0:
		return what + " contains '*': names are concrete, patterns belong in the policy"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return what + " contains a control character"
		}
	}
	return ""
}

// normSource unmaps IPv4-mapped IPv6 addresses and drops zones.
func normSource(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}
