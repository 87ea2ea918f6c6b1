package enroll

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zapgate/zapgate/enroll/wire"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/policy"
)

// replayMargin keeps a used token's hash this long past its expiry.
const replayMargin = 5 * time.Minute

// outcome is a successful answer.
type outcome struct {
	status int
	body   wire.Result
}

func (s *Service) handleEnroll(w http.ResponseWriter, r *http.Request) {
	at := &attempt{action: ActionEnroll, source: sourceOf(r)}
	res, e := s.enroll(r.Context(), w, r, at)
	s.answer(r.Context(), w, at, res, e)
}

// handleChallenge answers GET /v1/enroll/challenge with a new one-time
// challenge for the proof of possession.
func (s *Service) handleChallenge(w http.ResponseWriter, _ *http.Request) {
	ch, err := s.chs.issue()
	if err != nil {
		s.log.Error("enrollment challenge", "error", err)
		writeJSON(w, http.StatusInternalServerError, wire.ErrorResponse{Error: wire.CodeInternal, Message: "no challenge could be made; try again later"})
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func (s *Service) handleApprove(w http.ResponseWriter, r *http.Request) {
	at := &attempt{action: ActionApprove, source: sourceOf(r)}
	res, e := s.approve(r.Context(), w, r, at)
	s.answer(r.Context(), w, at, res, e)
}

// answer writes the response; a refusal is audited first, and frees the
// token when it decided nothing.
func (s *Service) answer(ctx context.Context, w http.ResponseWriter, at *attempt, res outcome, e *apiError) {
	if e == nil {
		writeJSON(w, res.status, res.body)
		return
	}
	if e.release && at.who != nil {
		s.store.release(at.who.hash)
	}
	if !s.recordUnauthenticated(at, e.code, e.msg) {
		if err := s.record(ctx, at, audit.OutcomeFailure, e.code, e.msg); err != nil {
			s.log.Error("enrollment refusal not audited", "error", err, "code", e.code, "principal", at.principal)
		}
	}
	writeJSON(w, e.status, wire.ErrorResponse{Error: e.code, Message: e.msg})
}

// enroll runs POST /v1/enroll.
func (s *Service) enroll(ctx context.Context, w http.ResponseWriter, r *http.Request, at *attempt) (outcome, *apiError) {
	var req wire.EnrollRequest
	if e := decodeBody(w, r, &req); e != nil {
		return outcome{}, e
	}
	at.principal = excerpt(req.Principal)
	key, err := certs.ParsePublicKey(req.PublicKey)
	if err != nil || key.IsZero() {
		return outcome{}, refuse(http.StatusBadRequest, wire.CodeBadRequest, "public_key must be a CURVE public key: 40 characters of Z85")
	}
	at.fingerprint = key.Fingerprint()
	if msg := principalProblem(req.Principal); msg != "" {
		return outcome{}, refuse(http.StatusBadRequest, wire.CodeBadRequest, "principal %s", msg)
	}
	at.principal = req.Principal
	if e := s.checkProof(req, key); e != nil {
		return outcome{}, e
	}
	if e := s.authenticate(ctx, at, req.IDToken); e != nil {
		return outcome{}, e
	}
	// The policy first, then the directory: a person who may not enroll
	// the principal learns nothing about whether it exists.
	d, e := s.authorize(ctx, at, req.Principal)
	if e != nil {
		return outcome{}, e
	}
	target, e := s.checkTarget(ctx, req.Principal)
	if e != nil {
		return outcome{}, e
	}
	if target != req.Principal {
		// The directory spells it differently: the policy must allow the
		// principal the key is actually bound to.
		at.principal = target
		if d, e = s.authorize(ctx, at, target); e != nil {
			return outcome{}, e
		}
	}
	me := s.approverOf(at.who, d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if done, res, e := s.checkKey(ctx, at, key, target); done {
		return res, e
	}
	if p, ok := s.store.getPending(at.fingerprint); ok {
		if !equalFold(p.Principal, target) {
			return outcome{}, refuse(http.StatusConflict, wire.CodeKeyBound, "this key already waits for approval for another principal")
		}
		return s.approveLocked(ctx, at, p, me)
	}
	p := Pending{Principal: target, Key: key.String(), Fingerprint: at.fingerprint, Required: max(1, d.Rule.Approvals),
		Requested: s.opts.Now().UTC(), Expires: s.opts.Now().Add(s.opts.PendingTTL).UTC()}
	return s.approveLocked(ctx, at, p, me)
}

// approve runs POST /v1/enroll/approve.
func (s *Service) approve(ctx context.Context, w http.ResponseWriter, r *http.Request, at *attempt) (outcome, *apiError) {
	var req wire.ApproveRequest
	if e := decodeBody(w, r, &req); e != nil {
		return outcome{}, e
	}
	if !validFingerprint(req.Fingerprint) {
		return outcome{}, refuse(http.StatusBadRequest, wire.CodeBadRequest, `fingerprint must look like "SHA256:" and 16 base64 characters`)
	}
	at.fingerprint = req.Fingerprint
	if e := s.authenticate(ctx, at, req.IDToken); e != nil {
		return outcome{}, e
	}
	p, ok := s.store.getPending(req.Fingerprint)
	if !ok {
		return outcome{}, refuse(http.StatusNotFound, wire.CodeNotPending, "no enrollment of key %s waits for approval (never requested, expired or already bound)", req.Fingerprint)
	}
	at.principal, at.approvers = p.Principal, approverNames(p.Approvers)
	me := Approver{Name: at.who.name, Issuer: at.who.issuer, Subject: at.who.subject}
	if e := sameApprover(p, me); e != nil {
		return outcome{}, e
	}
	d, e := s.authorize(ctx, at, p.Principal)
	if e != nil {
		return outcome{}, e
	}
	if _, e := s.checkTarget(ctx, p.Principal); e != nil {
		return outcome{}, e
	}
	me = s.approverOf(at.who, d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok = s.store.getPending(req.Fingerprint); !ok {
		return outcome{}, refuse(http.StatusNotFound, wire.CodeNotPending, "no enrollment of key %s waits for approval any more", req.Fingerprint)
	}
	key, err := certs.ParsePublicKey(p.Key)
	if err != nil {
		return outcome{}, refuse(http.StatusInternalServerError, wire.CodeInternal, "the pending request holds a bad key")
	}
	if done, res, e := s.checkKey(ctx, at, key, p.Principal); done {
		_ = s.store.dropPending(p.Fingerprint)
		return res, e
	}
	return s.approveLocked(ctx, at, p, me)
}

// approveLocked adds me to the approvers of p and binds the key when
// enough people approved, else keeps p pending. The caller holds s.mu.
func (s *Service) approveLocked(ctx context.Context, at *attempt, p Pending, me Approver) (outcome, *apiError) {
	if e := sameApprover(p, me); e != nil {
		at.approvers = approverNames(p.Approvers)
		return outcome{}, e
	}
	p.Approvers = append(p.Approvers, me)
	at.approvers = approverNames(p.Approvers)
	res := wire.Result{Principal: p.Principal, Fingerprint: p.Fingerprint, ApprovedBy: at.approvers}
	if len(p.Approvers) < p.Required {
		if err := s.record(ctx, at, audit.OutcomeUnknown, wire.StatusPending, ""); err != nil {
			return outcome{}, outage(wire.CodeAuditUnavailable, "the audit log cannot record the request, so nothing was stored; try again later")
		}
		if err := s.store.putPending(p); err != nil {
			s.log.Error("pending enrollment not stored", "error", err, "principal", p.Principal)
			e := refuse(http.StatusInternalServerError, wire.CodeInternal, "the request could not be stored; try again later")
			e.release = true
			return outcome{}, e
		}
		res.Status, res.ApprovalsRequired = wire.StatusPending, p.Required
		return outcome{http.StatusAccepted, res}, nil
	}
	key, err := certs.ParsePublicKey(p.Key)
	if err != nil {
		return outcome{}, refuse(http.StatusInternalServerError, wire.CodeInternal, "the request holds a bad key")
	}
	// No grant without a durable record: audit first, then write.
	if err := s.record(ctx, at, audit.OutcomeSuccess, wire.StatusBound, ""); err != nil {
		return outcome{}, outage(wire.CodeAuditUnavailable, "the audit log cannot record the binding, so the key was not bound; try again later")
	}
	if err := s.writeBinding(key, p.Principal, p.Approvers); err != nil {
		s.log.Error("enrollment binding not written", "error", err, "principal", p.Principal, "key", p.Fingerprint)
		return outcome{}, refuse(http.StatusInternalServerError, wire.CodeInternal, "the binding could not be written to the key registry")
	}
	if err := s.store.dropPending(p.Fingerprint); err != nil {
		s.log.Warn("bound key still listed as pending", "error", err, "key", p.Fingerprint)
	}
	s.log.Info("key enrolled", "principal", p.Principal, "key", p.Fingerprint, "approvers", at.approvers)
	res.Status = wire.StatusBound
	return outcome{http.StatusCreated, res}, nil
}

// checkProof checks the proof of possession of the key (step 1b), before
// the ID token is verified or spent. The challenge is used up, whatever
// the outcome.
func (s *Service) checkProof(req wire.EnrollRequest, key certs.PublicKey) *apiError {
	if req.Challenge == "" || req.Proof == "" {
		return refuse(http.StatusBadRequest, wire.CodeBadRequest, "challenge and proof are required: get a challenge (GET /v1/enroll/challenge) and prove that the node holds the key's secret (docs/enrollment.md)")
	}
	secret, ok := s.chs.take(req.Challenge)
	if !ok {
		return refuse(http.StatusUnauthorized, wire.CodeInvalidProof, "unknown or expired challenge: challenges are used once and expire after %s; get a new one", ChallengeTTL)
	}
	if !VerifyProof(secret, key, req.Challenge, req.Principal, req.IDToken, req.Proof) {
		return refuse(http.StatusUnauthorized, wire.CodeInvalidProof, "proof does not match the key: it must be made with the secret key of %s for this challenge, principal and ID token", key.Fingerprint())
	}
	return nil
}

// authenticate verifies the ID token and uses it up.
func (s *Service) authenticate(ctx context.Context, at *attempt, raw string) *apiError {
	who, err := s.vf.verify(ctx, raw)
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) {
			return refuse(http.StatusUnauthorized, wire.CodeInvalidToken, "%s", te.Error())
		}
		s.log.Error("openid provider unavailable", "error", err)
		return outage(wire.CodeProviderUnavailable, "the OpenID provider's discovery document or keys could not be fetched; try again later")
	}
	at.who = who
	fresh, err := s.store.consume(who.hash, who.expiry.Add(replayMargin), who.rawHash)
	if err != nil {
		s.log.Error("used-token store", "error", err)
		return refuse(http.StatusInternalServerError, wire.CodeInternal, "the used-token store could not be written; try again later")
	}
	if !fresh {
		return refuse(http.StatusConflict, wire.CodeTokenReplayed, "this ID token was already used; sign in again for a new one")
	}
	return nil
}

// checkTarget checks that the principal exists and is enabled, and
// returns it as the directory spells it.
func (s *Service) checkTarget(ctx context.Context, principal string) (string, *apiError) {
	id, err := s.opts.Directory.Lookup(ctx, principal)
	switch {
	case errors.Is(err, idp.ErrNotFound):
		return "", refuse(http.StatusNotFound, wire.CodeUnknownPrincipal, "the directory has no principal %q", principal)
	case err != nil:
		s.log.Error("directory lookup for enrollment", "error", err, "principal", principal)
		return "", outage(wire.CodeDirectoryUnavailable, "the directory could not be asked about %q; try again later", principal)
	case id.Stale:
		return "", outage(wire.CodeDirectoryUnavailable, "the directory is unreachable (only a cached answer for %q); enrollment needs a live answer", principal)
	case !id.Enabled:
		return "", refuse(http.StatusForbidden, wire.CodePrincipalDisabled, "the account of %q is disabled in the directory", principal)
	}
	if id.Principal != "" {
		return id.Principal, nil
	}
	return principal, nil
}

// authorize finds the person's groups and asks the policy.
func (s *Service) authorize(ctx context.Context, at *attempt, target string) (policy.Decision, *apiError) {
	groups, e := s.personGroups(ctx, at.who)
	if e != nil {
		return policy.Decision{}, e
	}
	at.groups = groups
	d := s.opts.Policy.Decide(policy.Subject{Principal: at.who.name, Groups: groups}, policy.Action{Kind: policy.Enroll, Target: target})
	at.decision = &d
	if !d.Allow {
		return d, refuse(http.StatusForbidden, wire.CodeForbidden, "the policy (revision %s) does not allow %s to enroll %q: %s", d.Revision, at.who.name, target, d.Rule)
	}
	return d, nil
}

// personGroups returns the person's groups: from the token, or from the
// directory (where the person must exist and be enabled).
func (s *Service) personGroups(ctx context.Context, who *person) ([]string, *apiError) {
	if !s.opts.GroupsFromDirectory {
		return who.groups, nil
	}
	id, err := s.opts.Directory.Lookup(ctx, who.name)
	switch {
	case errors.Is(err, idp.ErrNotFound):
		return nil, refuse(http.StatusForbidden, wire.CodeForbidden, "%s is not in the directory, so has no groups to enroll with", who.name)
	case err != nil:
		s.log.Error("directory lookup of the enrolling person", "error", err, "person", who.name)
		return nil, outage(wire.CodeDirectoryUnavailable, "the directory could not be asked about %s; try again later", who.name)
	case !id.Enabled:
		return nil, refuse(http.StatusForbidden, wire.CodeForbidden, "the account of %s is disabled in the directory", who.name)
	}
	return id.Groups, nil
}

// approverOf describes the verified person as an approver.
func (s *Service) approverOf(who *person, d policy.Decision) Approver {
	return Approver{Name: who.name, Issuer: who.issuer, Subject: who.subject, Rule: d.Rule.ID, At: s.opts.Now().UTC()}
}

// sameApprover refuses a person who already approved p.
func sameApprover(p Pending, me Approver) *apiError {
	for _, a := range p.Approvers {
		if a.same(me) {
			return refuse(http.StatusConflict, wire.CodeSameApprover, "%s already approved this enrollment; a different person must approve it", me.Name)
		}
	}
	return nil
}

func approverNames(as []Approver) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}
