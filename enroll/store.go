package enroll

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// stateFile is the store's file inside the state directory.
const stateFile = "state.json"

// maxUsed bounds the used-token entries kept; a request beyond it is
// refused (500 internal) rather than forgetting a token that has not expired.
const maxUsed = 100000

// maxPending bounds the requests waiting for a second approval.
const maxPending = 1000

// Approver is one person who approved an enrollment.
type Approver struct {
	// Name is the person as the principal claim names them.
	Name string `json:"name"`
	// Issuer and Subject identify the person at the OpenID provider.
	Issuer string `json:"iss"`
	// Subject is the token's sub claim.
	Subject string `json:"sub"`
	// Rule is the policy rule that allowed them.
	Rule string `json:"rule"`
	// At is when they approved.
	At time.Time `json:"at"`
}

// same reports whether a and b are the same person: the same provider
// account, or the same name compared case-insensitively.
func (a Approver) same(b Approver) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject || equalFold(a.Name, b.Name)
}

// Pending is an enrollment waiting for more approvals.
type Pending struct {
	// Principal is the principal the key is to be bound to.
	Principal string `json:"principal"`
	// Key is the Z85 public key.
	Key string `json:"key"`
	// Fingerprint is the key's fingerprint ("SHA256:...").
	Fingerprint string `json:"fingerprint"`
	// Approvers are the people who approved so far.
	Approvers []Approver `json:"approvers"`
	// Required is how many distinct approvers the binding needs.
	Required int `json:"required"`
	// Requested is when the first approver asked.
	Requested time.Time `json:"requested"`
	// Expires is when the request is dropped.
	Expires time.Time `json:"expires"`
}

// stateDoc is the on-disk form of the store.
type stateDoc struct {
	Version int                  `json:"version"`
	Used    map[string]time.Time `json:"used"` // hex SHA-256 of the raw token → keep until
	Pending []*Pending           `json:"pending"`
}

// store is the persisted state: used tokens and pending requests. Every
// change is written to disk (temporary file, fsync, rename) before it is
// acknowledged, so a restart neither reopens a used token nor loses a
// pending request.
type store struct {
	mu      sync.Mutex
	dir     string
	used    map[string]time.Time
	pending map[string]*Pending // by fingerprint
	now     func() time.Time
}

// openStore loads the state in dir (created 0700). A missing file is an
// empty state; a damaged one is an error: silently starting empty would
// accept used tokens again.
func openStore(dir string, now func() time.Time) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("enroll: state dir: %w", err)
	}
	s := &store{dir: dir, used: map[string]time.Time{}, pending: map[string]*Pending{}, now: now}
	path := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("enroll: state: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != 1 {
		return nil, fmt.Errorf("enroll: state %s is damaged (%v); refusing to start with an empty used-token store: restore it or move it aside knowingly", path, err)
	}
	for k, v := range doc.Used {
		s.used[k] = v
	}
	for _, p := range doc.Pending {
		if p != nil && p.Fingerprint != "" {
			s.pending[p.Fingerprint] = p
		}
	}
	return s, nil
}

// consume marks the token hash used until keep. It returns false when the
// hash, or one of the aliases (the same token's keys under an earlier
// scheme, kept in old state files), was already used.
func (s *store) consume(hash string, keep time.Time, aliases ...string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range append([]string{hash}, aliases...) {
		if _, ok := s.used[h]; ok {
			return false, nil
		}
	}
	s.prune()
	if len(s.used) >= maxUsed {
		return false, fmt.Errorf("enroll: %d used tokens are kept until they expire; refusing more", maxUsed)
	}
	s.used[hash] = keep
	if err := s.save(); err != nil {
		delete(s.used, hash)
		return false, err
	}
	return true, nil
}

// release forgets a used token again, after a technical failure that
// decided nothing (directory or audit outage), so the person can retry.
func (s *store) release(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.used[hash]; ok {
		delete(s.used, hash)
		if err := s.save(); err != nil {
			s.used[hash] = until // the token stays used, in memory as on disk: fail closed
		}
	}
}

// getPending returns a copy of the live pending request for fingerprint.
func (s *store) getPending(fp string) (Pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[fp]
	if !ok || !s.now().Before(p.Expires) {
		return Pending{}, false
	}
	c := *p
	c.Approvers = append([]Approver(nil), p.Approvers...)
	return c, true
}

// listPending returns the live pending requests, oldest first.
func (s *store) listPending() []Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pending
	now := s.now()
	for _, p := range s.pending {
		if now.Before(p.Expires) {
			c := *p
			c.Approvers = append([]Approver(nil), p.Approvers...)
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Requested.Before(out[j].Requested) })
	return out
}

// putPending stores (or replaces) a pending request.
func (s *store) putPending(p Pending) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	old, had := s.pending[p.Fingerprint]
	if !had && len(s.pending) >= maxPending {
		return fmt.Errorf("enroll: %d requests are already waiting for approval", maxPending)
	}
	s.pending[p.Fingerprint] = &p
	if err := s.save(); err != nil {
		if had {
			s.pending[p.Fingerprint] = old
		} else {
			delete(s.pending, p.Fingerprint)
		}
		return err
	}
	return nil
}

// dropPending removes a pending request.
func (s *store) dropPending(fp string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[fp]; !ok {
		return nil
	}
	delete(s.pending, fp)
	return s.save()
}

// prune drops expired entries; the caller holds mu.
func (s *store) prune() {
	now := s.now()
	for k, until := range s.used {
		if !now.Before(until) {
			delete(s.used, k)
		}
	}
	for k, p := range s.pending {
		if !now.Before(p.Expires) {
			delete(s.pending, k)
		}
	}
}

// save writes the state atomically; the caller holds mu.
func (s *store) save() error {
	doc := stateDoc{Version: 1, Used: s.used, Pending: make([]*Pending, 0, len(s.pending))}
	for _, p := range s.pending {
		doc.Pending = append(doc.Pending, p)
	}
	sort.Slice(doc.Pending, func(i, j int) bool { return doc.Pending[i].Fingerprint < doc.Pending[j].Fingerprint })
	data, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("enroll: state: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".state-*.tmp")
	if err != nil {
		return fmt.Errorf("enroll: state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("enroll: state: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("enroll: state: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("enroll: state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, stateFile)); err != nil {
		return fmt.Errorf("enroll: state: %w", err)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
