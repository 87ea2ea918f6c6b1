package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/internal/actor"
)

func newKeygenCmd(_ *globals) *cobra.Command {
	var dir, principal string
	c := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Generate a CURVE keypair as NAME.key and NAME.key_secret",
		Long: `keygen generates a CURVE keypair with libzmq's generator and writes it in
CZMQ's zcert format, named as pyzmq names them: DIR/NAME.key (public, 0644)
and DIR/NAME.key_secret (secret, 0600). Both load unchanged in pyzmq and czmq.
Existing files are never overwritten.`,
		Example: `  zapgate keygen proxy01 --dir /etc/zapgate/node --principal 'PROXY01$'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, sec, err := certs.GenerateKeypair()
			if err != nil {
				return err
			}
			cert := &certs.Cert{Public: pub, Secret: &sec}
			if principal != "" {
				cert.Metadata.Set("principal", principal)
			}
			pubPath, secPath, err := cert.Save(dir, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "public key:  %s\nfingerprint: %s\nwrote %s\nwrote %s (mode 0600; keep it on this node)\n",
				pub, pub.Fingerprint(), pubPath, secPath)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", ".", "directory to write the two files into")
	c.Flags().StringVar(&principal, "principal", "", "principal to record in the certificate's metadata")
	return c
}

// keysFlags are the flags of the keys verbs.
type keysFlags struct {
	registry string
}

// dir returns --registry, or keys.registry from the configuration.
func (f *keysFlags) dir(g *globals) (string, error) {
	if f.registry != "" {
		return f.registry, nil
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return "", err
	}
	return cfg.Keys.Registry, nil
}

func newKeysCmd(g *globals) *cobra.Command {
	f := &keysFlags{}
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the key registry: which CURVE key belongs to which principal",
		Long: `The key registry is a directory of public certificate files (zcert format);
each binds one CURVE public key to a principal (metadata "principal"; optional
"source", "expires", "note"). The running broker reloads it on change.
--registry defaults to keys.registry from the configuration.`,
	}
	for _, sc := range []*cobra.Command{newKeysAddCmd(g, f), newKeysListCmd(g, f), newKeysShowCmd(g, f), newKeysRevokeCmd(g, f)} {
		sc.Flags().StringVar(&f.registry, "registry", "", "key registry directory (default: keys.registry from the config)")
		c.AddCommand(sc)
	}
	c.AddCommand(newKeysApproveCmd(g, f)) // approves at the broker: no local registry
	return c
}

func newKeysAddCmd(g *globals, f *keysFlags) *cobra.Command {
	var principal, source, note, name, expires string
	c := &cobra.Command{
		Use:   "add CERT",
		Short: "Bind the public key in CERT to a principal",
		Long: `add reads the public key from CERT (a public or secret zcert file; the secret
is never copied) and writes a public-only file into the registry that binds it
to --principal. A key that is already bound is refused, and so is an --expires
that is not in the future. The file records who ran the command (added-by);
a running broker audits the new binding as keys.add with that name.`,
		Example: `  zapgate keys add proxy01.key --principal 'PROXY01$' --expires 2027-06-30`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := f.dir(g)
			if err != nil {
				return err
			}
			opts := certs.AddOptions{Source: source, Note: note, Name: name, By: actor.Current()}
			if expires != "" {
				t, err := certs.ParseExpires(expires)
				if err != nil {
					return fmt.Errorf("--expires: %w", err)
				}
				opts.Expires = t
			}
			b, err := certs.AddCert(dir, args[0], principal, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "bound %s (%s) to %q in %s\n", b.Key.Fingerprint(), b.Key, b.Principal, b.File)
			return nil
		},
	}
	c.Flags().StringVar(&principal, "principal", "", "principal the key belongs to (required)")
	c.Flags().StringVar(&source, "source", "", "where the key came from, recorded in the binding")
	c.Flags().StringVar(&note, "note", "", "free-text note recorded in the binding")
	c.Flags().StringVar(&name, "name", "", "file name in the registry (default derived from the principal)")
	c.Flags().StringVar(&expires, "expires", "", "expiry: RFC 3339 time or YYYY-MM-DD (end of that day, UTC)")
	_ = c.MarkFlagRequired("principal")
	return c
}

func newKeysListCmd(g *globals, f *keysFlags) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the registry's bindings (and files it could not load)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := f.dir(g)
			if err != nil {
				return err
			}
			bindings, errs := certs.List(dir)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(bindingsJSON(bindings)); err != nil {
					return err
				}
			} else {
				printBindings(cmd.OutOrStdout(), bindings)
				printRefused(cmd.OutOrStdout(), errs)
			}
			for _, e := range errs {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", e)
			}
			if len(errs) > 0 {
				return exitCode(3)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return c
}

func newKeysShowCmd(g *globals, f *keysFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show SELECTOR",
		Short: "Show one binding, selected by principal, key, fingerprint or file name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := f.dir(g)
			if err != nil {
				return err
			}
			b, err := certs.Find(dir, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "principal:   %s\npublic key:  %s\nfingerprint: %s\nfile:        %s\n", b.Principal, b.Key, b.Key.Fingerprint(), b.File)
			if b.Source != "" {
				fmt.Fprintf(w, "source:      %s\n", b.Source)
			}
			if !b.Expires.IsZero() {
				fmt.Fprintf(w, "expires:     %s\n", b.Expires.UTC().Format(time.RFC3339))
			}
			if b.Note != "" {
				fmt.Fprintf(w, "note:        %s\n", b.Note)
			}
			return nil
		},
	}
}

func newKeysRevokeCmd(g *globals, f *keysFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke SELECTOR",
		Short: "Revoke a binding: move its file into revoked/ (effective for new handshakes at once)",
		Long: `revoke moves the binding's file into revoked/, stamped with the time and who
ran the command (revoked-by). The next handshake with the key is refused; the
broker audits the revocation as keys.revoke, naming that user and the binding
as it was (at its next start if it is not running).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := f.dir(g)
			if err != nil {
				return err
			}
			b, moved, err := certs.RevokeWith(dir, args[0], certs.RevokeOptions{By: actor.Current()})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%s); moved to %s\n", b.Principal, b.Key.Fingerprint(), moved)
			return nil
		},
	}
}

// printRefused lists, after the table, the files and directories the
// broker refuses because another user may change them.
func printRefused(w io.Writer, errs []error) {
	first := true
	for _, e := range errs {
		if !errors.Is(e, certs.ErrUntrusted) {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nREFUSED (not trusted: another user may change them; nothing they bind is accepted)")
			first = false
		}
		fmt.Fprintln(w, "  "+e.Error())
	}
}

func printBindings(w io.Writer, bs []certs.Binding) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tFINGERPRINT\tEXPIRES\tSOURCE\tFILE")
	for _, b := range bs {
		exp := "-"
		if !b.Expires.IsZero() {
			exp = b.Expires.UTC().Format(time.RFC3339)
		}
		src := b.Source
		if src == "" {
			src = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Principal, b.Key.Fingerprint(), exp, src, b.File)
	}
	tw.Flush()
}

// bindingJSON is the --json shape of one binding.
type bindingJSON struct {
	Principal   string `json:"principal"`
	Key         string `json:"key"`
	Fingerprint string `json:"fingerprint"`
	Expires     string `json:"expires,omitempty"`
	Source      string `json:"source,omitempty"`
	Note        string `json:"note,omitempty"`
	File        string `json:"file"`
}

func bindingsJSON(bs []certs.Binding) []bindingJSON {
	out := make([]bindingJSON, 0, len(bs))
	for _, b := range bs {
		j := bindingJSON{Principal: b.Principal, Key: b.Key.String(), Fingerprint: b.Key.Fingerprint(), Source: b.Source, Note: b.Note, File: b.File}
		if !b.Expires.IsZero() {
			j.Expires = b.Expires.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	return out
}
