package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/policy"
)

func newPolicyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Check, test, explain, diff, sign and verify role-based policy files",
		Long: `A policy file binds directory groups (AD DNs, okta:NAME) and principals to
roles, says what each role may do (connect, serve, request, publish,
subscribe), and lists deny rules that win over every grant. Anything not
allowed is denied. The format is in docs/policy.md; a complete example is
examples/policy.yaml.

Before rolling out a change: check it, run its tests, read the diff against
the serving version, then sign it.`,
		Example: `  zapgate policy check policy.yaml
  zapgate policy test policy.yaml
  zapgate policy diff /etc/zapgate/policy.yaml policy.yaml
  zapgate policy sign --key secteam.secret policy.yaml`,
	}
	c.AddCommand(newPolicyCheckCmd(), newPolicyTestCmd(), newPolicyExplainCmd(g), newPolicyDiffCmd(),
		newPolicySignCmd(), newPolicyVerifyCmd(g), newPolicyKeygenCmd())
	return c
}

// parsePolicyFile reads and compiles a policy file without signature or
// test checks.
func parsePolicyFile(path string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return policy.Parse(path, data)
}

// printPolicyErrors prints a Parse error one problem per line.
func printPolicyErrors(w io.Writer, err error) {
	var errs policy.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

func newPolicyCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Validate policy files and print every error as file:line",
		Long: `check validates each policy file strictly (unknown and duplicate keys,
undefined roles, bad patterns and CIDRs, tests that name undefined roles or
rules...) and prints every problem as file:line: message, all in one run,
then warnings (roles no binding grants, roles that grant nothing). It exits 1
if any file has an error. It does not run the tests (see policy test) or
check the signature (see policy verify).`,
		Example: `  $ zapgate policy check examples/policy.yaml
  examples/policy.yaml: ok (revision 2026-11-25.1; 6 roles, 7 bindings, 4 deny rules, 19 tests)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, failed := cmd.OutOrStdout(), false
			for _, path := range args {
				p, err := parsePolicyFile(path)
				if err != nil {
					printPolicyErrors(out, err)
					failed = true
					continue
				}
				for _, w := range p.Warnings() {
					fmt.Fprintln(out, w)
				}
				c := p.Counts()
				fmt.Fprintf(out, "%s: ok (revision %s; %d roles, %d bindings, %d deny rules, %d tests)\n",
					path, p.Revision(), c.Roles, c.Bindings, c.Deny, c.Tests)
			}
			if failed {
				return exitCode(1)
			}
			return nil
		},
	}
}

func newPolicyTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test FILE [TESTS...]",
		Short: "Run a policy file's embedded tests and print a pass/fail table",
		Long: `test runs the tests: section of FILE (all of them, or those named by TESTS,
which may be shell patterns such as 'proxy*') and prints one line per test:
PASS or FAIL, the name, the decision and the rule that decided. A failing test
is followed by what was expected. It exits 1 if the file is invalid, a test
fails, or a TESTS name selects no test. The broker runs the same tests at
every reload and refuses a policy whose tests fail.`,
		Example: `  $ zapgate policy test examples/policy.yaml 'a proxy*'
  RESULT  TEST                                          DECISION  RULE
  PASS    a proxy cannot start tasks on a repository    deny      default-deny
  PASS    a proxy serves the proxy service              allow     role:proxy:serve#1
  ...
  6 passed, 0 failed`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			p, err := parsePolicyFile(args[0])
			if err != nil {
				printPolicyErrors(out, err)
				return exitCode(1)
			}
			results, err := policy.RunTests(p, args[1:])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RESULT\tTEST\tDECISION\tRULE")
			var failures []string
			for _, r := range results {
				res := "PASS"
				if !r.Pass {
					res = "FAIL"
					failures = append(failures, fmt.Sprintf("%s:%d: test %q: %s", p.File(), r.Line, r.Name, r.Failure))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res, r.Name, r.Decision.Outcome(), r.Decision.Rule.ID)
			}
			tw.Flush()
			for _, f := range failures {
				fmt.Fprintln(out, f)
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", len(results)-len(failures), len(failures))
			if len(failures) > 0 {
				return exitCode(1)
			}
			return nil
		},
	}
}

func newPolicyExplainCmd(g *globals) *cobra.Command {
	var principal, kind, service, command, topic, source, key, target string
	var groups []string
	c := &cobra.Command{
		Use:   "explain FILE --action KIND [flags]",
		Short: "Explain the decision for an identity and an action, rule by rule",
		Long: `explain decides one action for one identity under FILE, exactly as the broker
would, and prints the chain that led there: which binding named which of the
identity's groups (or its principal) and the roles that gave; which deny rules
name the identity and whether they cover the action; which role entries would
allow it; and what decided: a deny rule (deny always wins), the first grant,
or the default deny. Groups the policy does not name are listed as ignored.

--action is connect (with --source), serve (--service), request (--service
and --command), publish or subscribe (--topic), or enroll (--target, the
principal a key would be bound to; the identity is then the person
enrolling, e.g. --principal alice@corp.example.com --group okta:backup-admins).

--key SELECTOR (a principal, Z85 key, fingerprint or file name in the key
registry) takes the identity from the running configuration instead: the
key's binding in keys.registry gives the principal, and the configured
directory gives its groups and whether it is enabled.`,
		Example: `  $ zapgate policy explain examples/policy.yaml --principal 'PROXY01$' \
      --group okta:backup-proxies --action request --service repository --command task.start
  decision: DENY
  rule:     default-deny
  revision: 2026-11-25.1
  action:   request service "repository" command "task.start"

  identity:
    principal "PROXY01$": not named by this policy; ignored
    group "okta:backup-proxies": binding #2 (line 59) grants role proxy
    roles: proxy

  why:
    no deny rule names this identity.
    none of the roles proxy allows request service "repository" command "task.start"; anything not allowed is denied (default deny).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePolicyFile(args[0])
			if err != nil {
				printPolicyErrors(cmd.OutOrStdout(), err)
				return exitCode(1)
			}
			k, err := policy.ParseKind(kind)
			if err != nil {
				return fmt.Errorf("--action: %w", err)
			}
			a := policy.Action{Kind: k, Service: service, Command: command, Topic: topic, Target: target}
			if source != "" {
				if a.Source, err = netip.ParseAddr(source); err != nil {
					return fmt.Errorf("--source: %w", err)
				}
			}
			if key != "" {
				if principal, groups, err = identityOfKey(cmd, g, key); err != nil {
					return err
				}
			}
			s := policy.Subject{Principal: principal, Groups: groups}
			return p.Explain(s, a).WriteText(cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&principal, "principal", "", "principal (account) of the identity, e.g. 'PROXY01$'")
	f.StringArrayVar(&groups, "group", nil, "a group of the identity (repeatable): an AD DN, okta:NAME, or a plain name")
	f.StringVar(&kind, "action", "", "action kind: connect, serve, request, publish, subscribe or enroll (required)")
	f.StringVar(&service, "service", "", "service name (serve, request)")
	f.StringVar(&command, "command", "", "command (request), e.g. task.start")
	f.StringVar(&topic, "topic", "", "topic (publish, subscribe), e.g. job.status.PROXY01")
	f.StringVar(&source, "source", "", "source IP address (connect)")
	f.StringVar(&target, "target", "", "principal to bind a key to (enroll), e.g. 'PROXY01$'")
	f.StringVar(&key, "key", "", "take the identity from the key registry and directory of --config (principal, key, fingerprint or file name)")
	c.MarkFlagsMutuallyExclusive("key", "principal")
	c.MarkFlagsMutuallyExclusive("key", "group")
	_ = c.MarkFlagRequired("action")
	return c
}

func newPolicyDiffCmd() *cobra.Command {
	var exit bool
	c := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List the identities and actions whose decision changes between two policies",
		Long: `diff decides, under both files, every identity either file names (each
group and principal of the bindings and deny rules on its own, and each
test's identity) against every action either file names (its roles, deny
rules and tests; wildcard segments become "{any}"; connect from an unknown
source, from each listed network and from 192.0.2.1 and 2001:db8::1 as
"elsewhere"), and lists the roles and decisions that change. It is the view a
reviewer wants before approving a change. Exit status: 0, or with --exit-code
1 when something changes; 2 when a file is invalid.`,
		Example: `  $ zapgate policy diff /etc/zapgate/policy.yaml policy.yaml
  compared 14 identities x 41 actions: revision 2026-11-25.1 -> 2026-12-02.1

  1 decision changes:
    group "okta:backup-proxies"
      deny -> ALLOW  request service "repository" command "task.status"  [default-deny -> role:proxy:request#1, line 29]`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ps [2]*policy.Policy
			for i, path := range args {
				p, err := parsePolicyFile(path)
				if err != nil {
					printPolicyErrors(cmd.OutOrStdout(), err)
					return exitCode(2)
				}
				ps[i] = p
			}
			r := policy.Diff(ps[0], ps[1])
			if err := r.WriteText(cmd.OutOrStdout()); err != nil {
				return err
			}
			if exit && (len(r.Roles) > 0 || len(r.Decisions) > 0) {
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&exit, "exit-code", false, "exit 1 when any role or decision changes")
	return c
}
