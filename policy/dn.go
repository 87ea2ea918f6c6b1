package policy

import (
	"unicode/utf8"
)

// appendDN appends the canonical form of the distinguished name s to dst,
// so that DNs Active Directory treats as the same group get the same key:
//
//   - whitespace around the separators ',' and '+', around '=' and at
//     either end is dropped, unless escaped ("\ ");
//   - attribute types compare case-insensitively ("cn" = "CN");
//   - values compare case-insensitively (Unicode simple folding) after
//     their escapes are decoded, so "\2C", "\," and an escaped ',' are the
//     same character;
//   - whitespace inside a value is kept as it is ("Backup  Servers" is not
//     "Backup Servers"), and so is the order of RDNs.
//
// The "#hex" BER form of a value is not decoded (Active Directory does not
// produce it for group names), the legacy ';' separator and quoted values
// are not accepted, and an unescaped '"', ';', '<', '>' or NUL, an empty
// type or value, or a bad escape makes s invalid (ok false).
func appendDN(dst []byte, s string) (key []byte, ok bool) {
	i := 0
	for {
		i = skipSpace(s, i)
		start := i
		for i < len(s) && isTypeChar(s[i]) {
			i++
		}
		typ := s[start:i]
		i = skipSpace(s, i)
		if typ == "" || i >= len(s) || s[i] != '=' {
			return dst, false
		}
		i = skipSpace(s, i+1)
		for j := 0; j < len(typ); j++ {
			c := typ[j]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
		}
		dst = append(dst, '=')

		// Fast path: a value of plain ASCII bytes needs no decoding,
		// folding beyond upper case, or escaping.
		j := i
		for j < len(s) && dnPlain[s[j]] {
			j++
		}
		if j == len(s) || s[j] == ',' || s[j] == '+' {
			end := j
			for end > i && s[end-1] == ' ' {
				end--
			}
			if end == i {
				return dst, false
			}
			for ; i < end; i++ {
				c := s[i]
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				dst = append(dst, c)
			}
			i = j
			if i >= len(s) {
				return dst, true
			}
			dst = append(dst, s[i])
			i++
			continue
		}

		var scratch [128]byte
		val := scratch[:0]
		significant := 0 // length of val up to its last non-space or escaped byte
		for i < len(s) && s[i] != ',' && s[i] != '+' {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 >= len(s) {
					return dst, false
				}
				n := s[i+1]
				switch {
				case isHex(n):
					if i+2 >= len(s) || !isHex(s[i+2]) {
						return dst, false
					}
					val = append(val, unhex(n)<<4|unhex(s[i+2]))
					i += 3
				case isEscapable(n):
					val = append(val, n)
					i += 2
				default:
					return dst, false
				}
				significant = len(val)
			case c == '"' || c == ';' || c == '<' || c == '>' || c == 0:
				return dst, false
			default:
				val = append(val, c)
				if !isSpace(c) {
					significant = len(val)
				}
				i++
			}
		}
		val = val[:significant]
		if len(val) == 0 {
			return dst, false
		}
		dst = appendDNValue(dst, val)
		if i >= len(s) {
			return dst, true
		}
		dst = append(dst, s[i]) // ',' or '+'
		i++
	}
}

// appendDNValue appends a decoded value folded and re-escaped in one fixed
// way, so that different values never share a canonical form.
func appendDNValue(dst, val []byte) []byte {
	for i := 0; i < len(val); {
		if c := val[i]; c < utf8.RuneSelf && c != ' ' && c != '#' && c != 0 && !isEscapable(c) {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(val[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, '\\', hexDigit(val[i]>>4), hexDigit(val[i]&15))
			i++
			continue
		}
		first, last := i == 0, i+n == len(val)
		i += n
		r = foldRune(r)
		switch {
		case r == 0:
			dst = append(dst, '\\', '0', '0')
		case r < utf8.RuneSelf && isEscapable(byte(r)) && r != ' ' && r != '#',
			(r == ' ' || r == '#') && first,
			r == ' ' && last:
			dst = append(dst, '\\', byte(r))
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// dnPlain marks the bytes a value can hold that need no escape, decoding
// or Unicode folding: printable ASCII other than the DN specials.
var dnPlain = func() (t [256]bool) {
	for c := ' '; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `\"#+,;<=>` {
		t[c] = false
	}
	return t
}()

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// isTypeChar reports whether c may appear in an attribute type: a
// descriptor ("CN") or a numeric OID ("2.5.4.3").
func isTypeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// isEscapable reports whether "\c" is a valid escape of c (RFC 4514).
func isEscapable(c byte) bool {
	switch c {
	case ' ', '"', '#', '+', ',', ';', '<', '=', '>', '\\':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b] }
