package enrollclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DevicePrompt is what the person must do to sign in: open VerificationURI
// and enter UserCode, or open VerificationURIComplete (the code included)
// directly, for instance from a QR code.
type DevicePrompt struct {
	// VerificationURI is the provider's page for entering the code.
	VerificationURI string
	// VerificationURIComplete is VerificationURI with the code included;
	// empty when the provider offers none.
	VerificationURIComplete string
	// UserCode is the code the person enters.
	UserCode string
	// Expiry is when the code stops working (zero if unknown).
	Expiry time.Time
}

// SignIn runs the OAuth 2.0 device authorization grant (RFC 8628) at the
// provider pc names: it discovers the provider (OpenID Connect discovery),
// requests a device code, calls prompt with what the person must do, then
// polls the token endpoint as the provider directs (authorization_pending,
// slow_down, expiry) until the person approves, refuses, the code expires
// or ctx ends. It returns the raw ID token from the token response; the
// broker verifies it. hc, if not nil, is the HTTP client for the provider.
func SignIn(ctx context.Context, hc *http.Client, pc ProviderConfig, prompt func(DevicePrompt)) (string, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if err := providerURL(pc.Issuer, pc.Issuer); err != nil {
		return "", fmt.Errorf("enroll: OpenID provider %q: %w", printable(pc.Issuer), err)
	}
	ctx = oidc.ClientContext(ctx, hc)
	provider, err := oidc.NewProvider(ctx, pc.Issuer)
	if err != nil {
		return "", fmt.Errorf("enroll: OpenID provider %s: %w", pc.Issuer, err)
	}
	ep := provider.Endpoint()
	if ep.DeviceAuthURL == "" {
		return "", fmt.Errorf("enroll: OpenID provider %s offers no device authorization endpoint (device_authorization_endpoint missing from its discovery document)", pc.Issuer)
	}
	for _, u := range []string{ep.DeviceAuthURL, ep.TokenURL} {
		if err := providerURL(pc.Issuer, u); err != nil {
			return "", fmt.Errorf("enroll: OpenID provider %s: endpoint %q: %w", pc.Issuer, printable(u), err)
		}
	}
	// A public client: the client id goes in the form, never a Basic
	// header with an empty secret.
	ep.AuthStyle = oauth2.AuthStyleInParams
	conf := &oauth2.Config{ClientID: pc.ClientID, Endpoint: ep, Scopes: pc.Scopes}
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return "", fmt.Errorf("enroll: device authorization at %s: %w", ep.DeviceAuthURL, describe(err))
	}
	if da.UserCode == "" || da.VerificationURI == "" {
		return "", fmt.Errorf("enroll: device authorization at %s: answer without user_code or verification_uri", ep.DeviceAuthURL)
	}
	// What the provider sends is printed to a terminal: printable only.
	prompt(DevicePrompt{
		VerificationURI:         printable(da.VerificationURI),
		VerificationURIComplete: printable(da.VerificationURIComplete),
		UserCode:                printable(da.UserCode),
		Expiry:                  da.Expiry,
	})
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && !time.Now().Before(da.Expiry) {
			return "", fmt.Errorf("enroll: the code %s expired before anyone signed in; run the command again", printable(da.UserCode))
		}
		return "", fmt.Errorf("enroll: waiting for sign-in: %w", describe(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", fmt.Errorf("enroll: the provider's token response has no id_token (does the client request the openid scope? scopes: %v)", pc.Scopes)
	}
	return raw, nil
}

// describe names the OAuth error code of a token or device endpoint error
// (access_denied, expired_token, invalid_client, ...).
func describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		switch re.ErrorCode {
		case "access_denied":
			return fmt.Errorf("the sign-in was refused (access_denied): %w", err)
		case "expired_token":
			return fmt.Errorf("the code expired before anyone signed in (expired_token); run the command again: %w", err)
		}
		return fmt.Errorf("%s: %w", re.ErrorCode, err)
	}
	return err
}
