package zap

import (
	"encoding/binary"
	"math"
	"strings"
)

// MaxPropertyValue is the largest property value ZMTP metadata can carry
// (libzmq asserts values below 2^31).
const MaxPropertyValue = math.MaxInt32

// Property is one ZMTP 3.0 metadata property.
type Property struct {
	// Name is 1 to 255 characters from [A-Za-z0-9.+_-]; ZMTP compares
	// names case-insensitively, libzmq's zmq_msg_gets does not.
	Name string
	// Value is opaque bytes.
	Value []byte
}

// Properties is an ordered metadata block. Names are unique, ignoring case.
type Properties []Property

// Get returns the value of the property named name (case-insensitive).
func (p Properties) Get(name string) ([]byte, bool) {
	for _, prop := range p {
		if strings.EqualFold(prop.Name, name) {
			return prop.Value, true
		}
	}
	return nil, false
}

// ValidPropertyName reports whether name is a valid ZMTP property name:
// 1 to 255 characters from [A-Za-z0-9.+_-].
func ValidPropertyName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return false
		}
	}
	return true
}

func isNameChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '.', c == '-', c == '_', c == '+':
		return true
	}
	return false
}

// EncodeMetadata encodes props in the ZMTP 3.0 property format: for each
// property a 1-byte name length, the name, a 4-byte big-endian value length
// and the value. It refuses invalid or duplicate (case-insensitive) names and
// oversized values. An empty list encodes to an empty block.
func EncodeMetadata(props Properties) ([]byte, error) {
	size := 0
	seen := make(map[string]struct{}, len(props))
	for i, p := range props {
		if !ValidPropertyName(p.Name) {
			return nil, metadataError(-1, "property name", "property %d: invalid name %q", i, p.Name)
		}
		key := strings.ToLower(p.Name)
		if _, dup := seen[key]; dup {
			return nil, metadataError(-1, "property name", "property %d: duplicate name %q", i, p.Name)
		}
		seen[key] = struct{}{}
		if len(p.Value) > MaxPropertyValue {
			return nil, metadataError(-1, "property value", "property %q: value of %d bytes is too long", p.Name, len(p.Value))
		}
		size += 1 + len(p.Name) + 4 + len(p.Value)
	}
	out := make([]byte, 0, size)
	for _, p := range props {
		out = append(out, byte(len(p.Name)))
		out = append(out, p.Name...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(p.Value)))
		out = append(out, p.Value...)
	}
	return out, nil
}

// ParseMetadata decodes a ZMTP 3.0 metadata block. It refuses truncated
// blocks, invalid names, values of 2^31 bytes or more and duplicate names
// (case-insensitive). Values are copied out of b.
func ParseMetadata(b []byte) (Properties, error) {
	var props Properties
	seen := make(map[string]struct{})
	off := 0
	for off < len(b) {
		start := off
		nameLen := int(b[off])
		off++
		if nameLen == 0 {
			return nil, metadataError(start, "property name", "empty name")
		}
		if len(b)-off < nameLen {
			return nil, metadataError(start, "property name", "name of %d bytes truncated", nameLen)
		}
		name := string(b[off : off+nameLen])
		if !ValidPropertyName(name) {
			return nil, metadataError(start, "property name", "invalid name %q", name)
		}
		off += nameLen
		if len(b)-off < 4 {
			return nil, metadataError(off, "property value", "value length of %q truncated", name)
		}
		valueLen := binary.BigEndian.Uint32(b[off:])
		if valueLen > MaxPropertyValue {
			return nil, metadataError(off, "property value", "value length %d of %q is too large", valueLen, name)
		}
		off += 4
		if uint64(len(b)-off) < uint64(valueLen) {
			return nil, metadataError(off, "property value", "value of %q truncated: %d of %d bytes", name, len(b)-off, valueLen)
		}
		key := strings.ToLower(name)
		if _, dup := seen[key]; dup {
			return nil, metadataError(start, "property name", "duplicate name %q", name)
		}
		seen[key] = struct{}{}
		value := make([]byte, valueLen)
		copy(value, b[off:])
		off += int(valueLen)
		props = append(props, Property{Name: name, Value: value})
	}
	return props, nil
}
