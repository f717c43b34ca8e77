// tls_test.go: the official Go SDK over HTTPS. TestTLSWithCAFile starts a second cofferd of its own
// with a certificate the openssl command-line tool makes for 127.0.0.1 (--tls-cert/--tls-key), and
// drives it through backuprecoveryv1 with an http.Client whose RootCAs hold only that certificate (the
// "CA file" a user gives the SDK):
//   - the SDK creates a policy and reads it back over HTTPS (TLS 1.2 or 1.3, as Go negotiates);
//   - the same SDK call without the CA pool fails with an unknown-authority error (nothing answers);
//   - a client limited to TLS 1.1 gets no connection;
//   - the fingerprint cofferd prints is the SHA-256 of the certificate Go received.
package conformance

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

// startTLSDaemon: cofferd with cert/key on a free loopback port; returns its port, the fingerprint it
// printed and a stop function that fails the test unless it exits 0 after SIGTERM.
func startTLSDaemon(t *testing.T, dir, cert, key string) (int, string, func()) {
	t.Helper()
	bin, err := daemonBinary()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "cofferd-tls.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--tls-cert", cert, "--tls-key", key)
	cmd.Env = append(os.Environ(), "COFFER_ADMIN_KEY="+adminKey)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start cofferd: %v", err)
	}
	exited := make(chan error, 1)
	portc := make(chan int, 1)
	fpc := make(chan string, 1)
	go func() {
		ready := regexp.MustCompile(`^cofferd ready port=(\d+)$`)
		ident := regexp.MustCompile(`^cofferd tls fingerprint=(\S+) pin=`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if mm := ident.FindStringSubmatch(line); mm != nil {
				fpc <- mm[1]
			}
			if mm := ready.FindStringSubmatch(line); mm != nil {
				p, _ := strconv.Atoi(mm[1])
				portc <- p
			}
		}
		exited <- cmd.Wait()
	}()
	dump := func() {
		if b, err := os.ReadFile(logPath); err == nil {
			t.Logf("cofferd log:\n%s", b)
		}
	}
	var port int
	select {
	case port = <-portc:
	case err := <-exited:
		dump()
		t.Fatalf("cofferd exited before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		dump()
		t.Fatal("cofferd did not print its ready line within 60 s")
	}
	fp := ""
	select {
	case fp = <-fpc:
	default:
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				dump()
				t.Errorf("cofferd did not exit cleanly after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("cofferd did not stop within 30 s of SIGTERM")
		}
		logFile.Close()
	}
	return port, fp, stop
}

func tlsService(t *testing.T, url string, cfg *tls.Config) *backuprecoveryv1.BackupRecoveryV1 {
	t.Helper()
	auth, err := core.NewBearerTokenAuthenticator(adminKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := backuprecoveryv1.NewBackupRecoveryV1(&backuprecoveryv1.BackupRecoveryV1Options{URL: url, Authenticator: auth})
	if err != nil {
		t.Fatal(err)
	}
	c.Service.SetHTTPClient(&http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg}})
	return c
}

func TestTLSWithCAFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	gen := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=coffer-conformance",
		"-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the CA file holds no certificate")
	}
	port, printedFP, stop := startTLSDaemon(t, dir, cert, key)
	defer stop()
	url := fmt.Sprintf("https://127.0.0.1:%d/v2", port)

	// With the CA file: the SDK's calls work over HTTPS.
	var state *tls.ConnectionState
	cfg := &tls.Config{RootCAs: pool, VerifyConnection: func(cs tls.ConnectionState) error {
		state = &cs
		return nil
	}}
	s := tlsService(t, url, cfg)
	name := uniqueName(t, "tls-policy")
	res, resp, err := s.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Name:         core.StringPtr(name),
		BackupPolicy: hourlyBackupPolicy(6, 14),
	})
	wantStatus(t, resp, err, 201)
	got, resp, err := s.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		ID:           res.ID,
	})
	wantStatus(t, resp, err, 200)
	if got.Name == nil || *got.Name != name {
		t.Fatalf("policy read back over HTTPS: want name %q, got %v", name, got.Name)
	}
	if state == nil || (state.Version != tls.VersionTLS12 && state.Version != tls.VersionTLS13) {
		t.Fatalf("negotiated TLS version: %v", state)
	}
	sum := sha256.Sum256(state.PeerCertificates[0].Raw)
	hexed := make([]string, len(sum))
	for i, b := range sum {
		hexed[i] = fmt.Sprintf("%02X", b)
	}
	if want := strings.Join(hexed, ":"); printedFP != want {
		t.Fatalf("cofferd printed fingerprint %q, the certificate Go received has %q", printedFP, want)
	}

	// Without the CA file: the system roots do not know this certificate, and nothing is answered.
	plain := tlsService(t, url, &tls.Config{})
	_, resp, err = plain.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantA),
	})
	var ua x509.UnknownAuthorityError
	if err == nil || statusOf(resp) != 0 || !(errors.As(err, &ua) || strings.Contains(err.Error(), "unknown authority")) {
		t.Fatalf("without the CA file: want an unknown-authority error and no answer, got status %d, error %v",
			statusOf(resp), err)
	}

	// TLS 1.1 at most: refused by the server.
	old := tlsService(t, url, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	_, resp, err = old.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantA),
	})
	if err == nil || statusOf(resp) != 0 {
		t.Fatalf("TLS 1.1 client: want a failed handshake, got status %d, error %v", statusOf(resp), err)
	}
}
