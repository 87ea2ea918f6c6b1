package main

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/enrollclient"
)

func TestEnrollCommandFlagsAndKeyFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := runCLI(t, "keygen", "node", "--dir", dir, "--principal", "PROXY09$"); err != nil {
		t.Fatal(err)
	}
	// The broker answers 404: enrollment not enabled there.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no broker", []string{"enroll", "--key", filepath.Join(dir, "node.key")}, `"broker" not set`},
		{"no key", []string{"enroll", "--broker", srv.URL}, `"key" not set`},
		{"http broker", []string{"enroll", "--broker", "http://127.0.0.1:1", "--key", filepath.Join(dir, "node.key_secret")}, "want https://"},
		// The public certificate cannot prove anything: refused, naming
		// the secret file.
		{"public certificate", []string{"enroll", "--broker", srv.URL, "--ca-file", ca, "--key", filepath.Join(dir, "node.key")},
			"enroll needs the node's secret certificate NAME.key_secret to prove it holds the key; the secret never leaves this machine (use " + filepath.Join(dir, "node.key_secret") + ")"},
		{"missing key file", []string{"enroll", "--broker", srv.URL, "--key", filepath.Join(dir, "nope.key")}, "--key: certs: load"},
		{"not a cert", []string{"enroll", "--broker", srv.URL, "--key", ca}, "--key"},
		// The principal comes from the certificate's metadata.
		{"not enabled", []string{"enroll", "--broker", srv.URL, "--ca-file", ca, "--key", filepath.Join(dir, "node.key_secret")}, "enroll.enabled"},
		{"approve needs a fingerprint", []string{"keys", "approve", "--broker", srv.URL}, "accepts 1 arg"},
		{"approve not enabled", []string{"keys", "approve", "--broker", srv.URL, "--ca-file", ca, "SHA256:x"}, "enroll.enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q\n%s", err, tc.want, out)
			}
			if tc.name == "not enabled" && !strings.Contains(out, "as PROXY09$") {
				t.Errorf("principal not taken from the certificate:\n%s", out)
			}
		})
	}

	bare, err := certs.NewCert()
	if err != nil {
		t.Fatal(err)
	}
	data, err := bare.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bare.key_secret"), data, 0o600)
	_, err = runCLI(t, "enroll", "--broker", srv.URL, "--key", filepath.Join(dir, "bare.key_secret"))
	if err == nil || !strings.Contains(err.Error(), "--principal is required") {
		t.Errorf("certificate without principal, no --principal: %v", err)
	}
}

func TestPrintResultAndPrompt(t *testing.T) {
	var b bytes.Buffer
	printResult(&b, enrollclient.Result{Status: "pending", Principal: "PROXY09$", Fingerprint: "SHA256:abc", ApprovedBy: []string{"alice"}, ApprovalsRequired: 2}, "https://b:1")
	printResult(&b, enrollclient.Result{Status: "bound", Principal: "PROXY09$", Fingerprint: "SHA256:abc", ApprovedBy: []string{"alice", "bob"}}, "https://b:1")
	printPrompt(&b, enrollclient.DevicePrompt{VerificationURI: "http://idp/device", VerificationURIComplete: "http://idp/device?user_code=AB-CD", UserCode: "AB-CD"}, true)
	out := b.String()
	for _, want := range []string{
		"pending: key SHA256:abc for PROXY09$ needs 2 approvals (so far: alice)",
		"zapgate keys approve --broker https://b:1 SHA256:abc",
		"bound: key SHA256:abc is bound to PROXY09$ (approved by alice, bob)",
		"verification URL: http://idp/device\n", "user code: AB-CD\n", "█",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	printPrompt(&b, enrollclient.DevicePrompt{VerificationURI: "u", VerificationURIComplete: "c", UserCode: "x"}, false)
	if strings.Contains(b.String(), "█") {
		t.Errorf("QR code printed with --no-qr:\n%s", b.String())
	}
}
