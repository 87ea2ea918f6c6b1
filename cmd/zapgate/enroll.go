package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/enrollclient"
)

// enrollFlags are the flags shared by enroll and keys approve.
type enrollFlags struct {
	broker  string
	caFile  string
	noQR    bool
	timeout time.Duration
}

func (f *enrollFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.broker, "broker", "", "the broker's admin listener, https://HOST:PORT (required)")
	c.Flags().StringVar(&f.caFile, "ca-file", "", "PEM file of CAs to verify the broker's certificate with (default: system roots)")
	c.Flags().BoolVar(&f.noQR, "no-qr", false, "do not print a QR code of the sign-in link")
	c.Flags().DurationVar(&f.timeout, "timeout", 15*time.Minute, "give up after this long (the provider's code may expire sooner)")
	c.MarkFlagRequired("broker")
}

func newEnrollCmd(_ *globals) *cobra.Command {
	f := &enrollFlags{}
	var keyFile, principal string
	c := &cobra.Command{
		Use:   "enroll --broker URL --key FILE --principal NAME",
		Short: "Enroll this node's key through an identity-verified device flow",
		Long: `enroll asks the broker to bind this node's CURVE public key to a principal,
vouched for by a person who signs in at the broker's OpenID provider (Okta or
any compliant provider) with the OAuth 2.0 device authorization grant:

  1. it asks the broker (GET /v1/enroll/config) which provider and client to use;
  2. it prints a sign-in URL, a short code and a QR code; the person opens the
     URL on any device, enters the code and signs in;
  3. it fetches a one-time challenge from the broker (GET /v1/enroll/challenge),
     proves with the node's secret key that it holds the key, and sends the
     person's ID token, the principal, the public key and the proof to the
     broker (POST /v1/enroll). The secret key never leaves this machine.

The broker verifies the ID token, checks that the person's groups grant the
"enroll" permission for this principal, that the principal exists and is
enabled in the directory and that the key is not bound elsewhere, records who
approved, writes an audit record and binds the key. Some principals need a
second person's approval: the answer is then "pending" with the key's
fingerprint, and the second person runs "zapgate keys approve".

--key is the node's SECRET certificate (NAME.key_secret, zcert format, mode
0600): enroll proves with it that the node holds the key, so nobody can bind a
key they do not hold; only the public key and the proof are sent. The public
certificate NAME.key is refused. --principal defaults to the
certificate's "principal" metadata. Exit status: 0 when bound or pending, 1
when the broker refuses (its error code and message are printed) or anything
fails.`,
		Example: `  zapgate keygen proxy09 --dir /etc/zapgate/node --principal 'PROXY09$'
  zapgate enroll --broker https://broker.corp.example.com:9443 \
      --key /etc/zapgate/node/proxy09.key_secret --ca-file /etc/zapgate/ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cert, err := enrollclient.LoadNodeKey(keyFile)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			if principal == "" {
				principal, _ = cert.Metadata.Get("principal")
			}
			if principal == "" {
				return fmt.Errorf("--principal is required (the certificate %s records none)", keyFile)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "enrolling key %s (%s) as %s\n", cert.Public.Fingerprint(), cert.Public, principal)
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			cl, idToken, err := f.signIn(ctx, out)
			if err != nil {
				return err
			}
			// The challenge is fetched only now: it lives minutes, the
			// sign-in may take longer.
			res, err := cl.EnrollKey(ctx, *cert.Secret, principal, idToken)
			if err != nil {
				return err
			}
			printResult(out, res, f.broker)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&keyFile, "key", "", "the node's secret certificate file NAME.key_secret, to prove the node holds the key (required; the secret is never sent)")
	c.Flags().StringVar(&principal, "principal", "", "principal to bind the key to, e.g. 'PROXY09$' (default: the certificate's principal metadata)")
	c.MarkFlagRequired("key")
	return c
}

func newKeysApproveCmd(_ *globals, _ *keysFlags) *cobra.Command {
	f := &enrollFlags{}
	c := &cobra.Command{
		Use:   "approve --broker URL FINGERPRINT",
		Short: "Give the second approval to a pending enrollment",
		Long: `approve signs you in at the broker's OpenID provider with the device
authorization grant (as "zapgate enroll" does) and approves the pending binding
of the key with this fingerprint (POST /v1/enroll/approve). The broker
requires a different person from the one who enrolled the key, whose groups
grant the "enroll" permission for the principal; when enough people have
approved, the key is bound. It needs no key registry or config: only the
broker's admin listener. Exit status 0 when approved, 1 on refusal.`,
		Example: `  zapgate keys approve --broker https://broker.corp.example.com:9443 SHA256:Xq3v0Lw9u4b1nq8a`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			cl, idToken, err := f.signIn(ctx, out)
			if err != nil {
				return err
			}
			res, err := cl.Approve(ctx, args[0], idToken)
			if err != nil {
				return err
			}
			printResult(out, res, f.broker)
			return nil
		},
	}
	f.register(c)
	return c
}

// signIn fetches the broker's provider settings and runs the device flow,
// printing the prompt to out.
func (f *enrollFlags) signIn(ctx context.Context, out io.Writer) (*enrollclient.Client, string, error) {
	cl, err := enrollclient.New(f.broker, enrollclient.Options{CAFile: f.caFile})
	if err != nil {
		return nil, "", err
	}
	pc, err := cl.Config(ctx)
	if err != nil {
		return nil, "", err
	}
	tok, err := enrollclient.SignIn(ctx, nil, pc, func(p enrollclient.DevicePrompt) { printPrompt(out, p, !f.noQR) })
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintln(out, "signed in; asking the broker")
	return cl, tok, nil
}

// printPrompt tells the person where to sign in. The "user code:" and
// "verification URL:" lines are stable for scripts.
func printPrompt(out io.Writer, p enrollclient.DevicePrompt, qr bool) {
	fmt.Fprintf(out, "To approve, sign in on any device:\n  verification URL: %s\n  user code: %s\n", p.VerificationURI, p.UserCode)
	if p.VerificationURIComplete != "" {
		fmt.Fprintf(out, "  or open: %s\n", p.VerificationURIComplete)
		if qr {
			if q, err := qrcode.New(p.VerificationURIComplete, qrcode.Medium); err == nil {
				fmt.Fprint(out, q.ToSmallString(false))
			}
		}
	}
	if !p.Expiry.IsZero() {
		fmt.Fprintf(out, "waiting for sign-in (the code expires in %s)...\n", time.Until(p.Expiry).Round(time.Second))
	}
}

// printResult prints the broker's answer.
func printResult(out io.Writer, r enrollclient.Result, broker string) {
	by := strings.Join(r.ApprovedBy, ", ")
	switch r.Status {
	case "bound":
		fmt.Fprintf(out, "bound: key %s is bound to %s (approved by %s)\n", r.Fingerprint, r.Principal, by)
	case "already-bound":
		fmt.Fprintf(out, "already bound: key %s is already bound to %s; nothing changed\n", r.Fingerprint, r.Principal)
	case "pending":
		fmt.Fprintf(out, "pending: key %s for %s needs %d approvals (so far: %s)\nanother approver runs:\n  zapgate keys approve --broker %s %s\n",
			r.Fingerprint, r.Principal, r.ApprovalsRequired, by, broker, r.Fingerprint)
	default:
		fmt.Fprintf(out, "%s: key %s, principal %s (approved by %s)\n", r.Status, r.Fingerprint, r.Principal, by)
	}
}
