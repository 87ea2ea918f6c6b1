package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/policy"
)

func newPolicySignCmd() *cobra.Command {
	var keyPath string
	c := &cobra.Command{
		Use:   "sign --key SECRET FILE",
		Short: "Sign a policy file with an ed25519 key (writes FILE.sig)",
		Long: `sign checks FILE (it must load and its tests must pass), signs its exact bytes
with the ed25519 secret key in SECRET (PEM PKCS #8, mode 0600; see policy
keygen, or make one with openssl genpkey -algorithm ed25519), and writes the
detached signature to FILE.sig, replacing an older one. Any later change to
FILE, even whitespace, invalidates the signature. A broker configured with
policy.require_signature loads the file only with a valid FILE.sig from one
of policy.trusted_keys. A secret key file readable by group or others is
refused.`,
		Example: `  $ zapgate policy sign --key ~/.zapgate/secteam.secret policy.yaml
  signed policy.yaml (revision 2026-11-25.1) with key SHA256:q3n1mQe6Nqk0Wc3T
  wrote policy.yaml.sig`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := policy.LoadSecretKey(keyPath)
			if err != nil {
				return err
			}
			s, err := policy.SignFile(args[0], key)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s (revision %s) with key %s\nwrote %s\n", args[0], s.Revision, s.KeyID, s.SigPath)
			return nil
		},
	}
	c.Flags().StringVar(&keyPath, "key", "", "secret signing key file (required)")
	_ = c.MarkFlagRequired("key")
	return c
}

func newPolicyVerifyCmd(g *globals) *cobra.Command {
	var keys []string
	c := &cobra.Command{
		Use:   "verify [--key PUB]... FILE",
		Short: "Verify a policy file's signature (FILE.sig) against trusted keys",
		Long: `verify checks that FILE.sig is a valid signature over FILE's exact bytes by
one of the trusted public keys: the --key files, or else policy.trusted_keys
from the configuration. This is the check a broker with
policy.require_signature makes before loading a policy. It exits 1 when the
signature is missing, malformed, made by another key, or does not match the
file.`,
		Example: `  $ zapgate policy verify --key secteam.pub policy.yaml
  policy.yaml: good signature by key SHA256:q3n1mQe6Nqk0Wc3T (secteam.pub)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keys) == 0 {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				keys = cfg.Policy.TrustedKeys
				if len(keys) == 0 {
					return fmt.Errorf("policy verify: no --key given and policy.trusted_keys is empty")
				}
			}
			trusted, err := policy.LoadTrustedKeys(keys)
			if err != nil {
				return err
			}
			k, err := policy.VerifyFile(args[0], trusted)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: good signature by key %s (%s)\n", args[0], k.ID, k.File)
			return nil
		},
	}
	c.Flags().StringArrayVar(&keys, "key", nil, "trusted public key file (repeatable; default: policy.trusted_keys from the config)")
	return c
}

func newPolicyKeygenCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Generate an ed25519 policy-signing keypair as NAME.pub and NAME.secret",
		Long: `keygen generates an ed25519 keypair for signing policy files and writes
DIR/NAME.pub (PEM public key, mode 0644: copy it to every broker and list it
in policy.trusted_keys) and DIR/NAME.secret (PEM PKCS #8, mode 0600: keep it
with the security team, never on a broker). Both are the formats openssl
reads and writes. Existing files are never overwritten.`,
		Example: `  $ zapgate policy keygen secteam --dir ~/.zapgate
  key id:  SHA256:q3n1mQe6Nqk0Wc3T
  wrote /home/sec/.zapgate/secteam.pub
  wrote /home/sec/.zapgate/secteam.secret (mode 0600; keep it off the brokers)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pubPath, secPath, err := policy.GenerateKey(dir, args[0])
			if err != nil {
				return err
			}
			pub, err := policy.LoadPublicKey(pubPath)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key id:  %s\nwrote %s\nwrote %s (mode 0600; keep it off the brokers)\n",
				pub.ID, filepath.Clean(pubPath), filepath.Clean(secPath))
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", ".", "directory to write the two files into")
	return c
}
