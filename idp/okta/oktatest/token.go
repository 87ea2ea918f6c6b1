package oktatest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// assertionType is the only client_assertion_type accepted.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime is Okta's limit on a client assertion's exp.
const maxAssertionLifetime = time.Hour

// token answers POST /oauth2/v1/token: client credentials with a
// private_key_jwt assertion.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST application/x-www-form-urlencoded is required")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
		return
	}
	if f.Get("client_secret") != "" || r.Header.Get("Authorization") != "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "This client uses private_key_jwt; a client secret is not accepted.")
		return
	}
	if f.Get("client_assertion_type") != assertionType {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client_assertion_type is missing or not "+assertionType)
		return
	}
	clientID, reason := s.verifyAssertion(f.Get("client_assertion"), f.Get("client_id"))
	if reason != "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", reason)
		return
	}
	scopes := strings.Fields(f.Get("scope"))
	s.mu.Lock()
	c := s.clients[clientID]
	granted := map[string]bool{}
	for _, sc := range scopes {
		if !c.scopes[sc] {
			s.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_scope", "The following scopes were requested, but not granted: "+sc)
			return
		}
		granted[sc] = true
	}
	if len(scopes) == 0 {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_scope", "The authorization server requires a scope for the client credentials grant.")
		return
	}
	access := newID("eyJ")
	life := s.lifetime
	s.tokens[access] = token{expiry: time.Now().Add(life), scopes: granted}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{
		"token_type": "Bearer", "expires_in": int(life / time.Second),
		"access_token": access, "scope": strings.Join(scopes, " "),
	})
}

// verifyAssertion checks a client assertion and returns the client id, or
// the reason it is refused.
func (s *Server) verifyAssertion(raw, formClientID string) (string, string) {
	if raw == "" {
		return "", "client_assertion is missing"
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512})
	if err != nil || len(tok.Headers) != 1 {
		return "", "The client_assertion is not a signed JWT"
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return "", "The client_assertion has malformed claims"
	}
	clientID := unverified.Issuer
	if formClientID != "" && formClientID != clientID {
		return "", "client_id does not match the assertion's iss"
	}
	s.mu.Lock()
	c := s.clients[clientID]
	s.mu.Unlock()
	if c == nil {
		return "", "The client_assertion's iss is not a registered client"
	}
	if c.kid != "" && tok.Headers[0].KeyID != "" && tok.Headers[0].KeyID != c.kid {
		return "", "The client_assertion's kid does not match a registered key"
	}
	var claims jwt.Claims
	if err := tok.Claims(c.key, &claims); err != nil {
		return "", "The client_assertion signature is invalid"
	}
	now := time.Now()
	switch {
	case claims.Issuer != clientID || claims.Subject != clientID:
		return "", "The client_assertion's iss and sub must both be the client id"
	case len(claims.Audience) != 1 || claims.Audience[0] != s.TokenURL():
		return "", "The audience of the client_assertion is not the token endpoint"
	case claims.Expiry == nil:
		return "", "The client_assertion has no exp"
	case !now.Before(claims.Expiry.Time()):
		return "", "The client_assertion has expired"
	case claims.Expiry.Time().Sub(now) > maxAssertionLifetime:
		return "", "The client_assertion's exp is more than one hour ahead"
	case claims.ID == "":
		return "", "The client_assertion has no jti"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jtis[claims.ID] {
		return "", "The client_assertion token has already been used (jti replay)"
	}
	s.jtis[claims.ID] = true
	return clientID, ""
}

// oauthError writes an RFC 6749 error.
func oauthError(w http.ResponseWriter, code int, e, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": e, "error_description": desc})
}
