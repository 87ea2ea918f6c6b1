package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Comparison keys. A subject's principal and groups are looked up in the
// compiled policy by key, so that spellings the directory treats as equal
// find the same binding:
//
//   - principals compare case-insensitively (Unicode simple folding, as
//     strings.EqualFold): "p:" + folded principal;
//   - "okta:NAME" and "okta:ID" compare case-insensitively after the
//     prefix (itself matched in any case), with surrounding whitespace
//     trimmed: "o:" + folded rest;
//   - a string containing '=' is an LDAP distinguished name (RFC 4514):
//     "d:" + canonical DN, see appendDN;
//   - anything else is a plain group name (static directory): "n:" +
//     folded, trimmed name.
//
// The kind prefix keeps the kinds apart: a plain group "okta" never
// matches an Okta group.

// appendPrincipalKey appends the key of principal s to dst.
func appendPrincipalKey(dst []byte, s string) []byte {
	dst = append(dst, 'p', ':')
	return appendFold(dst, s)
}

// appendGroupKey appends the key of group g to dst. ok is false when g is
// not a valid group string (empty, "okta:" alone, a malformed DN); such a
// group never matches anything.
func appendGroupKey(dst []byte, g string) (key []byte, ok bool) {
	g = trimSpace(g)
	switch {
	case g == "":
		return dst, false
	case len(g) >= 5 && equalFoldASCII(g[:5], "okta:"):
		rest := trimSpace(g[5:])
		if rest == "" {
			return dst, false
		}
		dst = append(dst, 'o', ':')
		return appendFold(dst, rest), true
	case strings.IndexByte(g, '=') >= 0:
		dst = append(dst, 'd', ':')
		return appendDN(dst, g)
	}
	dst = append(dst, 'n', ':')
	return appendFold(dst, g), true
}

// appendFold appends s with every rune replaced by the smallest rune of
// its simple case-folding orbit, so that two strings get the same result
// exactly when strings.EqualFold holds. Invalid UTF-8 bytes are kept as
// they are.
func appendFold(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[i])
			i++
			continue
		}
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

// foldRune returns the smallest rune equal to r under simple folding.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf { // ASCII: the smallest is the upper case letter
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	low := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < low {
			low = f
		}
	}
	return low
}

func trimSpace(s string) string {
	for s != "" && isSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
