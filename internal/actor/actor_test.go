package actor

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestFileOwner: a file changed by hand is attributed to its owner, with
// its modification time; a file that cannot be examined to nobody.
func TestFileOwner(t *testing.T) {
	f := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(f, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := FileOwner(f)
	if want := fmt.Sprintf("(uid %d), modified ", os.Getuid()); !strings.Contains(got, want) {
		t.Errorf("FileOwner = %q, want it to contain %q", got, want)
	}
	if got := FileOwner(f + ".missing"); got != "" {
		t.Errorf("FileOwner of a missing file = %q, want empty", got)
	}
}
