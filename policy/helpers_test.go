package policy

import (
	"strings"
	"testing"
)

// mustParse compiles src (indented with tabs stripped) or fails the test.
func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return p
}

// parseErrs returns the errors Parse reports for src.
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	_, err := Parse("test.yaml", []byte(src))
	if err == nil {
		t.Fatalf("Parse accepted:\n%s", src)
	}
	errs, ok := err.(Errors)
	if !ok {
		t.Fatalf("Parse error is %T, not Errors: %v", err, err)
	}
	return errs
}

func req(service, command string) Action {
	return Action{Kind: Request, Service: service, Command: command}
}

func groups(gs ...string) Subject { return Subject{Groups: gs} }

func joinLines(errs Errors) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}
