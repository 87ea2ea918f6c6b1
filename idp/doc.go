// Package idp defines zapgate's identity sources: the directory interfaces
// and the Identity type that Active Directory, Okta and static directories
// implement. The implementations arrive with later issues.
package idp
