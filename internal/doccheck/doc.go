// Package doccheck holds the repository-wide documentation test: every
// package has a package doc comment, and every exported name has a doc
// comment that starts with the name.
package doccheck
