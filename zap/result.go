package zap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Status texts the server sends itself. They name a class of outcome, never
// an internal cause.
const (
	textInternal   = "internal error"
	textTemporary  = "temporary failure"
	textTimeout    = "timeout"
	textOverloaded = "overloaded"
	textShutdown   = "shutting down"
	textSelfTest   = "self-test"
	textDenied     = "access denied"
)

// MaxResultPropertyLen bounds one Result property value.
const MaxResultPropertyLen = 64 << 10

// refusal is a non-200 reply to req.
func refusal(req *Request, st Status, text string) Reply {
	return Reply{Version: Version, RequestID: req.RequestID, Status: st, StatusText: text}
}

// replyFor checks an Authenticator's Result and builds the reply. A 200
// reply carries the user id, every configured property (empty when the
// Result has none), the Result's other properties, sorted by name, and
// last the routing id as "Identity" when the Result sets one. A
// refusal carries only the status and a status text. Any invalid field
// makes the whole Result invalid: the caller answers 500.
func (s *Server) replyFor(req *Request, res Result) (Reply, error) {
	if !res.Status.Valid() {
		return Reply{}, fmt.Errorf("zap: result: invalid status %d", int(res.Status))
	}
	if res.Status != StatusOK {
		text := res.StatusText
		if text == "" || checkText("reply", repText, "status text", []byte(text), MaxFieldLen) != nil {
			text = defaultText(res.Status)
		}
		return refusal(req, res.Status, text), nil
	}
	if res.UserID == "" {
		return Reply{}, errors.New("zap: result: status 200 with an empty user id")
	}
	if err := checkText("reply", repUserID, "user id", []byte(res.UserID), MaxUserIDLen); err != nil {
		return Reply{}, fmt.Errorf("zap: result: %w", err)
	}
	meta, err := s.metadataFor(res.Properties)
	if err != nil {
		return Reply{}, err
	}
	if res.RoutingID != "" {
		if len(res.RoutingID) > MaxRoutingIDLen || res.RoutingID[0] == 0 {
			return Reply{}, fmt.Errorf("zap: result: routing id must be 1 to %d bytes, the first not zero", MaxRoutingIDLen)
		}
		meta = append(meta, Property{Name: PropertyIdentity, Value: []byte(res.RoutingID)})
	}
	text := res.StatusText
	if checkText("reply", repText, "status text", []byte(text), MaxFieldLen) != nil {
		text = ""
	}
	return Reply{
		Version: Version, RequestID: req.RequestID, Status: StatusOK,
		StatusText: text, UserID: res.UserID, Metadata: meta,
	}, nil
}

// metadataFor merges the configured authorization properties with a
// Result's properties. A Result name that matches a configured name
// case-insensitively takes the configured spelling, so readers find it.
func (s *Server) metadataFor(props map[string]string) (Properties, error) {
	configured := s.cfg.Properties
	meta := make(Properties, 0, len(configured)+len(props))
	for _, name := range configured {
		meta = append(meta, Property{Name: name, Value: []byte{}})
	}
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names)
	seen := make(map[string]string, len(names))
	for _, name := range names {
		value := props[name]
		if !ValidPropertyName(name) {
			return nil, fmt.Errorf("zap: result: invalid property name %q", name)
		}
		if isReserved(name) {
			return nil, fmt.Errorf("zap: result: property name %q is reserved", name)
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("zap: result: property %q duplicates %q", name, prev)
		}
		seen[key] = name
		if len(value) > MaxResultPropertyLen || !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
			return nil, fmt.Errorf("zap: result: property %q: value must be UTF-8 without NUL, at most %d bytes", name, MaxResultPropertyLen)
		}
		if i := slices.IndexFunc(configured, func(c string) bool { return strings.EqualFold(c, name) }); i >= 0 {
			meta[i].Value = []byte(value)
			continue
		}
		meta = append(meta, Property{Name: name, Value: []byte(value)})
	}
	return meta, nil
}

func defaultText(st Status) string {
	switch st {
	case StatusTempFail:
		return textTemporary
	case StatusDenied:
		return textDenied
	}
	return textInternal
}
