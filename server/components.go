package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/certs/keyaudit"
	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/internal/actor"
	"github.com/zapgate/zapgate/policy"
)

// DirectoryFactory opens a directory backend from the configuration.
type DirectoryFactory func(cfg *config.Config, log *slog.Logger) (idp.Directory, error)

// Directories maps directory.type to its factory: backends are chosen by
// this explicit table, not by self-registration.
var Directories = map[string]DirectoryFactory{
	"static": openStatic,
	"ldap":   openLDAP,
	"okta":   openOkta,
}

func openStatic(cfg *config.Config, log *slog.Logger) (idp.Directory, error) {
	d, err := static.Open(cfg.Directory.Static.File, static.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	if err := d.Start(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openAudit opens the audit log with its checkpoint key.
func openAudit(cfg *config.Config, log *slog.Logger) (*audit.Log, error) {
	opts := audit.Options{
		Dir:                cfg.Audit.Dir,
		RotateBytes:        cfg.Audit.RotateBytes,
		RotateAge:          cfg.Audit.RotateAge,
		CheckpointInterval: cfg.Audit.CheckpointInterval,
		FailOpen:           cfg.Audit.FailOpen,
		Logger:             log,
	}
	if cfg.Audit.CheckpointKey != "" {
		k, err := audit.LoadSecretKey(cfg.Audit.CheckpointKey)
		if err != nil {
			return nil, err
		}
		opts.CheckpointKey = k
	}
	return audit.Open(opts)
}

// openRegistry opens the key registry and starts following changes; every
// change it sees is audited (keyaudit), those made while the broker was
// down at this first load.
func openRegistry(cfg *config.Config, log *slog.Logger, rec *audit.Log) (*certs.Registry, error) {
	ka, err := keyaudit.New(keyaudit.Options{Audit: rec, StateFile: filepath.Join(cfg.Audit.Dir, keyaudit.StateFileName), Logger: log})
	if err != nil {
		return nil, err
	}
	r, err := certs.Open(cfg.Keys.Registry, certs.Options{Logger: log, OnLoad: ka.Observe})
	if err != nil {
		return nil, err
	}
	if err := r.Start(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// openPolicy opens the policy store; every reload attempt is audited.
func openPolicy(cfg *config.Config, log *slog.Logger, rec *audit.Log) (*policy.Store, error) {
	s, err := policy.Open(policy.StoreOptions{
		File:             cfg.Policy.File,
		RequireSignature: cfg.Policy.RequireSignature,
		TrustedKeyFiles:  cfg.Policy.TrustedKeys,
		Logger:           log,
		OnReload:         func(ev policy.ReloadEvent) { auditReload(rec, log, ev, actor.FileOwner(cfg.Policy.File)) },
	})
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// reloadReason is a policy.reload record's event.reason: the trigger, the
// revision and content hash serving after and before (so an in-place
// change under the same revision shows), the policy file's owner and
// modification time (who changed it, as far as the broker can tell),
// the failure when the attempt
// failed, and the deny rules and tests a reload removed with the first
// lines of the policy diff (docs/audit.md, "policy.reload").
func reloadReason(ev policy.ReloadEvent, owner string) string {
	now := fmt.Sprintf("revision %s %s", ev.Revision, ev.Hash)
	if owner != "" {
		owner = "; file owner " + owner
	}
	if ev.Err != nil {
		return fmt.Sprintf("%s: %v; %s keeps serving%s", ev.Trigger, ev.Err, now, owner)
	}
	s := fmt.Sprintf("%s: %s (was %q %s)%s", ev.Trigger, now, ev.Previous, ev.PreviousHash, owner)
	if w := ev.Weakened; w != nil {
		s += "; " + w.Summary() + ": " + strings.Join(append(append([]string(nil), w.Deny...), w.Tests...), "; ") +
			"; policy diff: " + strings.Join(strings.Fields(w.Diff), " ")
	}
	return s
}

// auditReload writes a policy.reload record for a reload attempt. owner
// (actor.FileOwner of the policy file) is who changed it as far as the
// broker can tell: an edit carries no stamp of its author.
func auditReload(rec *audit.Log, log *slog.Logger, ev policy.ReloadEvent, owner string) {
	if ev.Trigger != "open" && !ev.Changed && ev.Err == nil {
		return
	}
	r := audit.Record{Action: audit.ActionPolicyReload, Outcome: audit.OutcomeSuccess, Ruleset: ev.Revision,
		PolicyHash: ev.Hash, Reason: reloadReason(ev, owner)}

	if ev.Err != nil {
		r.Outcome = audit.OutcomeFailure
	} else if ev.Weakened != nil {
		r.Severity = audit.SeverityWarning
	}
	if _, err := rec.Append(context.Background(), r); err != nil {
		log.Error("policy reload not audited", "component", "audit", "error", err)
	}
}
