package enroll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zapgate/zapgate/enroll/wire"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
)

// checkKey looks the key up in the registry. done is true when the
// request ends here: the key is already bound to this principal (200,
// audited) or to another one, or was revoked (409). The caller holds s.mu.
func (s *Service) checkKey(ctx context.Context, at *attempt, key certs.PublicKey, principal string) (done bool, res outcome, e *apiError) {
	dir := s.opts.Registry
	if _, err := os.ReadDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("key registry unreadable", "error", err, "dir", dir)
		return true, outcome{}, refuse(http.StatusInternalServerError, wire.CodeInternal, "the key registry cannot be read")
	}
	bindings, _ := certs.List(dir)
	for _, b := range bindings {
		if b.Key != key {
			continue
		}
		if !equalFold(b.Principal, principal) {
			return true, outcome{}, refuse(http.StatusConflict, wire.CodeKeyBound, "key %s is already bound to another principal; revoke that binding first", at.fingerprint)
		}
		if err := s.record(ctx, at, audit.OutcomeSuccess, wire.StatusAlreadyBound, ""); err != nil {
			return true, outcome{}, outage(wire.CodeAuditUnavailable, "the audit log cannot record the request; try again later")
		}
		return true, outcome{http.StatusOK, wire.Result{Status: wire.StatusAlreadyBound, Principal: b.Principal, Fingerprint: at.fingerprint}}, nil
	}
	if s.revoked(key) {
		return true, outcome{}, refuse(http.StatusConflict, wire.CodeKeyBound, "key %s was revoked; a revoked key cannot be bound again (generate a new one)", at.fingerprint)
	}
	return false, outcome{}, nil
}

// revoked reports whether the registry's revoked/ directory holds key.
func (s *Service) revoked(key certs.PublicKey) bool {
	rdir := filepath.Join(s.opts.Registry, certs.RevokedDir)
	entries, err := os.ReadDir(rdir)
	if err != nil {
		return false
	}
	for _, ent := range entries {
		if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".key") {
			continue
		}
		if c, err := certs.LoadPublic(filepath.Join(rdir, ent.Name())); err == nil && c.Public == key {
			return true
		}
	}
	return false
}

// writeBinding writes the registry file binding key to principal, with
// source "enroll" and a note naming the approvers. The file is named
// after the principal and the key, so a principal may hold several keys.
func (s *Service) writeBinding(key certs.PublicKey, principal string, approvers []Approver) error {
	tmp, err := os.MkdirTemp(s.opts.StateDir, "cert-")
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "node.key")
	if err := (&certs.Cert{Public: key}).SavePublic(path); err != nil {
		return err
	}
	sum := sha256.Sum256(key[:])
	name := certs.SafeName(principal, key) + "-" + hex.EncodeToString(sum[:4])
	by := make([]string, len(approvers))
	for i, a := range approvers {
		by[i] = a.Name
	}
	_, err = certs.AddCert(s.opts.Registry, path, principal, certs.AddOptions{Source: "enroll", Note: note(approvers), Name: name,
		By: strings.Map(func(r rune) rune {
			if r == '"' || isControl(r) {
				return '\''
			}
			return r
		}, "enroll: "+strings.Join(by, ", "))})
	return err
}

// note describes the approvers for the binding's metadata, e.g.
// `approved by alice@x (iss https://idp sub 00u1) at 2026-11-25T21:00:00Z`.
func note(approvers []Approver) string {
	parts := make([]string, len(approvers))
	for i, a := range approvers {
		parts[i] = fmt.Sprintf("%s (iss %s sub %s, rule %s) at %s", a.Name, a.Issuer, a.Subject, a.Rule, a.At.UTC().Format(time.RFC3339))
	}
	n := "approved by " + strings.Join(parts, "; ")
	return strings.Map(func(r rune) rune {
		if r == '"' || isControl(r) {
			return '\''
		}
		return r
	}, n)
}

// principalProblem checks a requested principal.
func principalProblem(p string) string {
	switch {
	case p == "":
		return "is empty"
	case len(p) > 256:
		return "is longer than 256 bytes"
	case strings.TrimSpace(p) != p:
		return "has leading or trailing whitespace"
	case strings.ContainsAny(p, `*"`):
		return `contains '*' or '"'`
	case strings.ContainsFunc(p, isControl):
		return "contains a control character"
	}
	return ""
}

// maxExcerpt bounds an unchecked principal in audit records and logs.
const maxExcerpt = 256

// excerpt returns s cut to at most maxExcerpt bytes of valid UTF-8, marked
// with "..." when cut, for naming an unchecked principal in a record.
func excerpt(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// validFingerprint checks "SHA256:" and 16 standard base64 characters.
func validFingerprint(fp string) bool {
	rest, ok := strings.CutPrefix(fp, "SHA256:")
	if !ok || len(rest) != 16 {
		return false
	}
	for _, c := range rest {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
