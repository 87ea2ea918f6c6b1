package actor

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestCurrentNamesUID(t *testing.T) {
	t.Setenv("SUDO_USER", "alice")
	got := Current()
	if !strings.Contains(got, fmt.Sprintf("uid %d", os.Getuid())) {
		t.Fatalf("Current() = %q; want the uid", got)
	}
	if os.Getuid() == 0 && !strings.Contains(got, "sudo from alice") {
		t.Fatalf("Current() = %q; want the sudo user", got)
	}
}
