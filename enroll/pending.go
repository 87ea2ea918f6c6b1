package enroll

import (
	"errors"
	"net/http"

	"github.com/zapgate/zapgate/enroll/wire"

	"github.com/zapgate/zapgate/policy"
)

// handlePending runs GET /v1/enroll/pending: the caller proves who they
// are with an ID token as "Authorization: Bearer" (verified, not used up:
// listing changes nothing) and sees the pending requests the policy would
// let them approve. Listing is not audited.
func (s *Service) handlePending(w http.ResponseWriter, r *http.Request) {
	fail := func(e *apiError) { writeJSON(w, e.status, wire.ErrorResponse{Error: e.code, Message: e.msg}) }
	raw := bearer(r)
	if raw == "" {
		fail(refuse(http.StatusUnauthorized, wire.CodeInvalidToken, "malformed: send an ID token as Authorization: Bearer TOKEN"))
		return
	}
	who, err := s.vf.verify(r.Context(), raw)
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) {
			fail(refuse(http.StatusUnauthorized, wire.CodeInvalidToken, "%s", te.Error()))
			return
		}
		s.log.Error("openid provider unavailable", "error", err)
		fail(outage(wire.CodeProviderUnavailable, "the OpenID provider's discovery document or keys could not be fetched; try again later"))
		return
	}
	groups, e := s.personGroups(r.Context(), who)
	if e != nil {
		fail(e)
		return
	}
	out := wire.PendingList{Pending: []wire.PendingRequest{}}
	subject := policy.Subject{Principal: who.name, Groups: groups}
	for _, p := range s.store.listPending() {
		if !s.opts.Policy.Decide(subject, policy.Action{Kind: policy.Enroll, Target: p.Principal}).Allow {
			continue
		}
		out.Pending = append(out.Pending, wire.PendingRequest{Principal: p.Principal, Fingerprint: p.Fingerprint,
			ApprovedBy: approverNames(p.Approvers), ApprovalsRequired: p.Required, RequestedAt: p.Requested, ExpiresAt: p.Expires})
	}
	writeJSON(w, http.StatusOK, out)
}
