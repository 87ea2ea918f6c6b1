// Package okta is zapgate's Okta directory: it implements idp.Directory
// (and, optionally, idp.KeyFinder) with Okta's management API.
//
// Authentication is as an API service app with OAuth 2.0 client credentials
// and private_key_jwt (golang.org/x/oauth2/clientcredentials): every token
// request carries a freshly signed client assertion (iss = sub = client id,
// aud = the token URL, a random jti, exp 5 minutes ahead), and the access
// token is cached and renewed a minute before it expires. An SSWS API token
// is the documented alternative. Exactly one mode is configured.
//
// A Lookup reads GET /api/v1/users/{login or id} (the principal is
// path-escaped; a login with "/", which Okta fetches by id only, is read
// with filter=profile.login eq "…"; "." and ".." are not found) and
// then, for an enabled user, every page of
// GET /api/v1/users/{id}/groups (limit=200, following Link rel="next",
// which must stay on the org and the endpoint's path; a page that is not
// a JSON array is an unexpected body). Each group is returned twice, as
// "okta:" + profile.name and "okta:" + id, so a policy binding may use
// either. The identity's Principal is the user's profile.login. A principal
// that Okta resolves only as a login short name is refused (not found).
//
// User status decides Enabled (see StatusEnabled). The node authenticates with
// its CURVE key and never with an Okta password, so:
//
//	ACTIVE            enabled
//	PASSWORD_EXPIRED  enabled: the account is active, only its password aged out
//	STAGED            not enabled: created, never activated
//	PROVISIONED       not enabled: activation not completed
//	RECOVERY          not enabled: a password reset is pending, often a response to compromise
//	LOCKED_OUT        not enabled: locked after failed sign-ins (as AD lockout)
//	SUSPENDED         not enabled
//	DEPROVISIONED     not enabled
//	anything else     not enabled
//
// Rate limits: X-Rate-Limit-Remaining and X-Rate-Limit-Reset are read on
// every answer, per endpoint (Okta limits each separately). When Remaining
// reaches 0 the next request to that endpoint waits for the reset; a 429 is
// retried up to twice after waiting for the reset. The reset is measured
// against the answer's Date header, so clock skew does not matter. No wait
// exceeds Config.MaxRateLimitWait or the caller's deadline: the request
// fails as unavailable instead. At most Config.MaxConcurrent requests are in
// flight; a request waiting for a reset does not hold a slot.
//
// Errors: Okta's 404 for an unknown user (errorCode E0000007) wraps
// idp.ErrNotFound (a decision); a 404 without that error (a proxy's page)
// is an outage, and so is a 404 from a list endpoint or from the groups
// endpoint while the user still exists. 5xx answers, timeouts,
// network errors, unexpected bodies, exhausted rate limits, and 401/403
// (zapgate's own credentials refused; the error also wraps ErrAuth and says
// to check the app's scopes and admin role) wrap idp.ErrUnavailable, so the
// cache in front serves known principals within its stale grace. In OAuth
// mode a 401 first drops the cached token and retries once; a token
// request is bounded by Config.Timeout and the caller's context. Tokens and
// keys never appear in errors or logs.
//
// Key in the directory: with Config.KeyAttribute set, FindByKey finds the
// user whose profile attribute holds the node's 40-character Z85 public key
// (see FindByKey) and confirms it by reading the user by id, since the
// search index may lag; removing the value revokes the node.
//
// A YAML example (the config package maps the directory section onto
// Config):
//
//	directory:
//	  type: okta
//	  okta:
//	    org_url: https://example.okta.com
//	    client_id: 0oa1b2c3d4e5f6g7h8i9
//	    private_key_file: /etc/zapgate/okta-key.pem   # PEM or JWK, mode 0600
//	    # key_id: the kid Okta shows for the key (optional)
//	    # scopes: [okta.users.read, okta.groups.read]
//	    # or, instead of client_id/private_key_file:
//	    # api_token_file: /etc/zapgate/okta-token     # or api_token_env
//	    # key_attribute: zapgateCurveKey              # key-in-directory mode
//	    timeout: 10s
//	    max_concurrent: 4
//	    max_rate_limit_wait: 30s
//	  cache:
//	    ttl: 5m
//	    stale_grace: 15m
package okta
