package okta

import "strings"

// parseLink returns the URI of the first link with relation rel in Link
// header values (RFC 8288): `<https://…>; rel="next", <…>; rel="self"`.
// Okta sends one link per header line, but several links in one value are
// accepted too. It returns "" when there is no such link or the header is
// malformed from that link on.
func parseLink(values []string, rel string) string {
	for _, v := range values {
		if u := parseLinkValue(v, rel); u != "" {
			return u
		}
	}
	return ""
}

// parseLinkValue scans one header value.
func parseLinkValue(s, rel string) string {
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" || s[0] != '<' {
			return ""
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return ""
		}
		target := s[1:end]
		if strings.ContainsAny(target, "< \t") {
			return "" // not a URI reference
		}
		s = s[end+1:]
		match := false
		// Parameters: ; name[=value], value a token or a quoted string.
		for {
			s = strings.TrimLeft(s, " \t")
			if s == "" || s[0] == ',' {
				break
			}
			if s[0] != ';' {
				return ""
			}
			s = strings.TrimLeft(s[1:], " \t")
			i := strings.IndexAny(s, "=;,")
			if i < 0 {
				i = len(s)
			}
			name := strings.ToLower(strings.TrimSpace(s[:i]))
			s = s[i:]
			var value string
			if s != "" && s[0] == '=' {
				var ok bool
				value, s, ok = paramValue(strings.TrimLeft(s[1:], " \t"))
				if !ok {
					return ""
				}
			}
			if name == "rel" {
				for _, r := range strings.Fields(value) {
					if strings.EqualFold(r, rel) {
						match = true
					}
				}
			}
		}
		if match && target != "" {
			return target
		}
	}
}

// paramValue reads a token or quoted-string value and returns it with the
// rest of s.
func paramValue(s string) (value, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		i := strings.IndexAny(s, ";,")
		if i < 0 {
			i = len(s)
		}
		return strings.TrimSpace(s[:i]), s[i:], true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}
