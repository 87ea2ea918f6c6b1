package certs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Property is one metadata entry of a certificate.
type Property struct {
	// Name is a ZPL name: letters, digits and "$-_@.&+/".
	Name string
	// Value is any single line of UTF-8 text without control characters
	// (tab allowed) that does not hold both a double quote and an apostrophe.
	Value string
}

// Metadata is a certificate's metadata section, in file order.
type Metadata []Property

// Get returns the value of the first property called name.
func (m Metadata) Get(name string) (string, bool) {
	for _, p := range m {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Set replaces the value of the property called name, keeping its position,
// or appends the property when there is none.
func (m *Metadata) Set(name, value string) {
	for i := range *m {
		if (*m)[i].Name == name {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, Property{Name: name, Value: value})
}

// Delete removes every property called name.
func (m *Metadata) Delete(name string) {
	out := (*m)[:0]
	for _, p := range *m {
		if p.Name != name {
			out = append(out, p)
		}
	}
	*m = out
}

// Validate reports the first property that cannot be written to a
// certificate file: an invalid or duplicate name, a value that would corrupt
// the file, or a name starting with "public-key" or "secret-key" (pyzmq's
// loader matches those prefixes on any line, so such a property would be
// taken for a key).
func (m Metadata) Validate() error {
	seen := make(map[string]bool, len(m))
	for _, p := range m {
		if msg := validName(p.Name); msg != "" {
			return fmt.Errorf("certs: metadata: %s", msg)
		}
		if strings.HasPrefix(p.Name, "public-key") || strings.HasPrefix(p.Name, "secret-key") {
			return fmt.Errorf("certs: metadata %q: name is reserved for keys", p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("certs: metadata %q: duplicate name", p.Name)
		}
		seen[p.Name] = true
		if _, err := quoteValue(p.Value); err != nil {
			return fmt.Errorf("certs: metadata %q: %w", p.Name, err)
		}
	}
	return nil
}

// Cert is a CURVE certificate: a public key, optionally its secret key, and
// metadata, as stored in CZMQ's zcert files.
type Cert struct {
	// Public is the public key (curve/public-key).
	Public PublicKey
	// Secret is the secret key (curve/secret-key), nil for a public
	// certificate.
	Secret *SecretKey
	// Metadata is the metadata section, in file order.
	Metadata Metadata
}

// NewCert generates a keypair with GenerateKeypair and returns it as a
// secret certificate without metadata.
func NewCert() (*Cert, error) {
	pub, sec, err := GenerateKeypair()
	if err != nil {
		return nil, err
	}
	return &Cert{Public: pub, Secret: &sec}, nil
}

// ParseCert parses a certificate in zcert (ZPL) format, as written by CZMQ's
// zcert_save, pyzmq's zmq.auth.create_certificates or Cert.Marshal*. name
// identifies the input in errors, which are *ParseError values naming the
// line. The curve section must hold a valid public-key; a secret-key, when
// present, must be the one that belongs to the public key. Properties of the
// curve section other than the two keys, duplicate sections or properties,
// and nested lines under a property are errors; top-level sections other
// than metadata and curve are ignored.
func ParseCert(name string, data []byte) (*Cert, error) {
	nodes, err := parseZPL(name, data)
	if err != nil {
		return nil, err
	}
	fail := func(line int, cause error, format string, args ...any) error {
		return &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, args...), Err: cause}
	}
	c := &Cert{}
	var curve, meta *zplNode
	for _, n := range nodes {
		switch n.name {
		case "metadata", "curve":
		default:
			continue // unknown sections are ignored
		}
		if n.hasValue {
			return nil, fail(n.line, nil, "section %q must not have a value", n.name)
		}
		if (n.name == "curve" && curve != nil) || (n.name == "metadata" && meta != nil) {
			return nil, fail(n.line, nil, "duplicate section %q", n.name)
		}
		seen := map[string]bool{}
		for _, p := range n.children {
			if !p.hasValue {
				return nil, fail(p.line, nil, "%s/%s has no value (missing '=')", n.name, p.name)
			}
			if len(p.children) > 0 {
				return nil, fail(p.children[0].line, nil, "unexpected line nested under %s/%s", n.name, p.name)
			}
			if seen[p.name] {
				return nil, fail(p.line, nil, "duplicate property %s/%s", n.name, p.name)
			}
			seen[p.name] = true
		}
		if n.name == "curve" {
			curve = n
		} else {
			meta = n
		}
	}
	if meta != nil {
		for _, p := range meta.children {
			c.Metadata = append(c.Metadata, Property{Name: p.name, Value: p.value})
		}
	}
	if curve == nil {
		return nil, fail(0, nil, "no curve section (is this a zcert certificate file?)")
	}
	var pubNode *zplNode
	for _, p := range curve.children {
		switch p.name {
		case "public-key":
			pubNode = p
			k, err := decodeKey(p.value)
			if err != nil {
				return nil, fail(p.line, err, "bad curve/public-key")
			}
			c.Public = PublicKey(k)
		case "secret-key":
			sec, err := decodeSecret(p.value)
			if err != nil {
				return nil, fail(p.line, err, "bad curve/secret-key")
			}
			c.Secret = &sec
		default:
			return nil, fail(p.line, nil, "unknown property curve/%s (want public-key or secret-key)", p.name)
		}
	}
	if pubNode == nil {
		return nil, fail(curve.line, nil, "curve section has no public-key")
	}
	if c.Secret != nil {
		derived, err := c.Secret.Public()
		if err != nil || derived != c.Public {
			return nil, fail(0, err, "curve/secret-key does not belong to curve/public-key")
		}
	}
	return c, nil
}

// Banners written at the top of certificate files, as CZMQ's zcert writes
// them (with "zapgate" in place of "CZMQ").
var (
	publicBanner = []string{
		"   ZeroMQ CURVE Public Certificate",
		"   Exchange securely, or use a secure mechanism to verify the contents",
		"   of this file after exchange. Store public certificates in your home",
		"   directory, in the .curve subdirectory.",
	}
	secretBanner = []string{
		"   ZeroMQ CURVE **Secret** Certificate",
		"   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.",
	}
)

// nowFunc is the clock used for the "Generated on" banner line.
var nowFunc = time.Now

// MarshalPublic returns the public certificate file: the metadata and the
// public key, never the secret key. It fails when the metadata does not
// pass Metadata.Validate.
func (c *Cert) MarshalPublic() ([]byte, error) {
	return c.marshal(publicBanner, false)
}

// MarshalSecret returns the secret certificate file: the metadata and both
// keys. It fails when the certificate has no secret key or the metadata
// does not pass Metadata.Validate.
func (c *Cert) MarshalSecret() ([]byte, error) {
	if c.Secret == nil {
		return nil, errors.New("certs: marshal secret certificate: no secret key")
	}
	return c.marshal(secretBanner, true)
}

// marshal writes the zcert layout of zconfig_save: banner comments, a blank
// line, the metadata section and the curve section, values quoted.
func (c *Cert) marshal(banner []string, withSecret bool) ([]byte, error) {
	if err := c.Metadata.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "#   ****  Generated on %s by zapgate  ****\n", nowFunc().Format("2006-01-02 15:04:05"))
	for _, line := range banner {
		fmt.Fprintf(&b, "#%s\n", line)
	}
	b.WriteString("\nmetadata\n")
	for _, p := range c.Metadata {
		q, _ := quoteValue(p.Value) // checked by Validate
		fmt.Fprintf(&b, "    %s = %s\n", p.Name, q)
	}
	fmt.Fprintf(&b, "curve\n    public-key = \"%s\"\n", c.Public)
	if withSecret {
		fmt.Fprintf(&b, "    secret-key = \"%s\"\n", c.Secret.Z85())
	}
	return b.Bytes(), nil
}
