package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/broker/audit"
)

func newAuditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Verify, export and tail the tamper-evident audit log",
		Long: `The audit log is a directory of JSON-lines files (audit.dir in the
configuration), one record per decision, hash-chained and, with
audit.checkpoint_key, signed by periodic checkpoints. These verbs read it;
they never write to it. FILES|DIR default to audit.dir. See docs/audit.md.`,
	}
	c.AddCommand(newAuditVerifyCmd(g), newAuditExportCmd(g), newAuditTailCmd(g), newAuditKeygenCmd())
	return c
}

// auditPaths resolves the FILES|DIR arguments, defaulting to audit.dir. It
// returns the directory when exactly one was given.
func auditPaths(g *globals, args []string) (files []string, head, dir string, err error) {
	if len(args) == 0 {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, "", "", err
		}
		args = []string{cfg.Audit.Dir}
	}
	files, head, err = audit.ResolvePaths(args)
	if err != nil {
		return nil, "", "", err
	}
	if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() && len(args) == 1 {
		dir = args[0]
	}
	if len(files) == 0 {
		return nil, "", "", fmt.Errorf("audit: no audit files in %s", strings.Join(args, ", "))
	}
	return files, head, dir, nil
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var keyPath string
	var partial, noSigs bool
	c := &cobra.Command{
		Use:   "verify [FILES|DIR]...",
		Short: "Check the audit hash chain and checkpoints",
		Long: `verify reads every record in chain order and checks its canonical form and
hash, the chain between records and across files, every signed checkpoint
(with the public key from --key, or audit.checkpoint_public_key), and, for a
directory, that the log still holds the record in its CHECKPOINT file, so a
truncated tail or a removed newest file is detected. It prints the first bad
record as FILE:LINE with the reason and exits 1 on any break.

Without a public key the signatures cannot be checked, and an attacker who
can write the files could rewrite the whole chain; verify then fails unless
--no-signatures accepts the chain alone. A log whose first files were
archived elsewhere starts after record 1; --partial accepts that.`,
		Example: `  $ zapgate audit verify --key /etc/zapgate/audit-checkpoint.pub /var/lib/zapgate/audit
  ok: 48211 records (seq 1-48211) in 2 files; 805 checkpoints, signatures verified; CHECKPOINT record 48211 present`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files, head, dir, err := auditPaths(g, args)
			if err != nil {
				return err
			}
			opts := audit.VerifyOptions{Head: head, Dir: dir, Partial: partial}
			if opts.Key, err = auditPublicKey(g, keyPath); err != nil {
				return err
			}
			res, err := audit.Verify(files, opts)
			if err != nil {
				return err
			}
			printVerify(cmd.OutOrStdout(), &res)
			if !res.SignaturesChecked && res.Checkpoints > 0 && !noSigs {
				return fmt.Errorf("audit verify: the chain is intact but its %d checkpoint signatures were not checked: "+
					"give --key (or set audit.checkpoint_public_key), or --no-signatures to accept the chain alone", res.Checkpoints)
			}
			return nil
		},
	}
	c.Flags().StringVar(&keyPath, "key", "", "checkpoint public key file (default: audit.checkpoint_public_key)")
	c.Flags().BoolVar(&partial, "partial", false, "accept a log whose chain starts after record 1 (earlier files archived)")
	c.Flags().BoolVar(&noSigs, "no-signatures", false, "accept a log whose checkpoint signatures cannot be checked (no public key)")
	return c
}

// auditPublicKey loads --key, or audit.checkpoint_public_key, or the
// public half of audit.checkpoint_key when it is readable; nil when none
// is configured.
func auditPublicKey(g *globals, path string) ([]byte, error) {
	if path == "" {
		cfg, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		path = cfg.Audit.CheckpointPublicKey
		if path == "" && cfg.Audit.CheckpointKey != "" {
			if k, err := audit.LoadPublicKey(cfg.Audit.CheckpointKey); err == nil {
				return k, nil
			}
		}
	}
	if path == "" {
		return nil, nil
	}
	return audit.LoadPublicKey(path)
}

// printVerify prints a successful verification.
func printVerify(w io.Writer, r *audit.VerifyResult) {
	sigs := "signatures verified"
	if !r.SignaturesChecked {
		sigs = "signatures NOT checked"
	}
	fmt.Fprintf(w, "ok: %s (seq %d-%d) in %s; %s, %s", plural(r.Records, "record"), r.FirstSeq, r.LastSeq,
		plural(uint64(r.Files), "file"), plural(uint64(r.Checkpoints), "checkpoint"), sigs)
	if r.HeadSeq > 0 {
		fmt.Fprintf(w, "; CHECKPOINT record %d present (signed %s)", r.HeadSeq, r.HeadTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// plural formats a count and a noun.
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func newAuditKeygenCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Generate the ed25519 checkpoint signing key as NAME.secret and NAME.pub",
		Long: `keygen writes a new ed25519 keypair in the PEM formats OpenSSL uses:
DIR/NAME.secret (PKCS #8, mode 0600) for audit.checkpoint_key on the broker,
and DIR/NAME.pub for audit.checkpoint_public_key and for whoever verifies the
log. Existing files are never overwritten. (openssl genpkey -algorithm
ed25519 makes a compatible secret key.)`,
		Example: `  $ zapgate audit keygen audit-checkpoint --dir /etc/zapgate`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, sec, id, err := audit.GenerateKey(dir, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key id:  %s\nwrote %s (mode 0600; audit.checkpoint_key)\nwrote %s (audit.checkpoint_public_key, and for verifiers)\n", id, sec, pub)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", ".", "directory to write the two files into")
	return c
}

// auditProductVersion is the version in CEF and LEEF headers.
func auditProductVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
