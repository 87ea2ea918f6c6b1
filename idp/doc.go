// Package idp defines zapgate's identity sources: the Identity type and the
// Directory interface that the static file, Active Directory/LDAP and Okta
// directories implement, plus small optional capabilities found by type
// assertion. Each backend lives in its own sub-package (idp/static, …).
package idp
