package certs

import (
	"errors"
	"fmt"
)

// z85Alphabet is the Z85 character set from ZeroMQ RFC 32, in digit order.
const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// z85Digits maps a byte to its Z85 digit value, or 0xFF when the byte is not
// in the alphabet.
var z85Digits = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(z85Alphabet); i++ {
		t[z85Alphabet[i]] = byte(i)
	}
	return t
}()

// ErrZ85 is wrapped by every error Z85Decode and Z85Encode return, so a
// caller can tell malformed Z85 from other failures with errors.Is.
var ErrZ85 = errors.New("invalid z85")

// Z85Encode encodes data as Z85 text (ZeroMQ RFC 32). The length of data must
// be a multiple of 4; the result is 5 characters for every 4 bytes.
func Z85Encode(data []byte) (string, error) {
	if len(data)%4 != 0 {
		return "", fmt.Errorf("certs: z85 encode: length %d is not a multiple of 4: %w", len(data), ErrZ85)
	}
	out := make([]byte, 0, len(data)/4*5)
	for i := 0; i < len(data); i += 4 {
		v := uint32(data[i])<<24 | uint32(data[i+1])<<16 | uint32(data[i+2])<<8 | uint32(data[i+3])
		var group [5]byte
		for j := 4; j >= 0; j-- {
			group[j] = z85Alphabet[v%85]
			v /= 85
		}
		out = append(out, group[:]...)
	}
	return string(out), nil
}

// Z85Decode decodes Z85 text (ZeroMQ RFC 32). It rejects text whose length is
// not a multiple of 5, any character outside the Z85 alphabet (naming its
// position), and any 5-character group whose value does not fit in 4 bytes.
func Z85Decode(s string) ([]byte, error) {
	out, err := z85Decode(s)
	if err != nil {
		return nil, fmt.Errorf("certs: z85 decode: %w", err)
	}
	return out, nil
}

// z85Decode is Z85Decode with errors that carry no context prefix.
func z85Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("length %d is not a multiple of 5: %w", len(s), ErrZ85)
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := 0; j < 5; j++ {
			d := z85Digits[s[i+j]]
			if d == 0xFF {
				return nil, fmt.Errorf("character %q at offset %d is not in the z85 alphabet: %w", s[i+j], i+j, ErrZ85)
			}
			v = v*85 + uint64(d)
		}
		if v > 0xFFFFFFFF {
			return nil, fmt.Errorf("group %q at offset %d overflows 32 bits: %w", s[i:i+5], i, ErrZ85)
		}
		out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return out, nil
}
