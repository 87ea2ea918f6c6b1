package server

import (
	"log/slog"

	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/cache"
	"github.com/zapgate/zapgate/idp/ldap"
	"github.com/zapgate/zapgate/idp/okta"
)

// openLDAP opens the LDAP / Active Directory backend behind the cache. The
// bind password is read from its file or environment variable here, never
// from the configuration file itself.
func openLDAP(cfg *config.Config, log *slog.Logger) (idp.Directory, error) {
	l := cfg.Directory.LDAP
	lc := l.Config
	if l.BindPasswordFile != "" || l.BindPasswordEnv != "" {
		pw, err := ldap.ReadSecret(l.BindPasswordFile, l.BindPasswordEnv)
		if err != nil {
			return nil, err
		}
		lc.BindPassword = pw
	}
	d, err := ldap.New(lc)
	if err != nil {
		return nil, err
	}
	c := cfg.Directory.Cache
	return cache.New(d, cache.Options{
		TTL: c.TTL, NegativeTTL: c.NegativeTTL, StaleGrace: c.StaleGrace, QueryTimeout: c.QueryTimeout, OutageBackoff: c.OutageBackoff, Logger: log,
	}), nil
}

// openOkta opens the Okta backend behind the cache. The private key or API
// token is read from its file or environment variable here. Without
// key_attribute the directory is offered without FindByKey, so the cache
// reports SupportsKeys false.
func openOkta(cfg *config.Config, log *slog.Logger) (idp.Directory, error) {
	d, err := okta.New(cfg.Directory.Okta.Config)
	if err != nil {
		return nil, err
	}
	var dir idp.Directory = d
	if !d.SupportsKeys() {
		dir = d.LookupOnly()
	}
	c := cfg.Directory.Cache
	return cache.New(dir, cache.Options{
		TTL: c.TTL, NegativeTTL: c.NegativeTTL, StaleGrace: c.StaleGrace, QueryTimeout: c.QueryTimeout, OutageBackoff: c.OutageBackoff, Logger: log,
	}), nil
}
