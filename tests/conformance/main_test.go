// Package conformance checks cofferd against the official IBM Go client (backuprecoveryv1 of
// github.com/IBM/ibm-backup-recovery-sdk-go): if the SDK can call an operation and decode our answer,
// a real user of that SDK can too.
//
// TestMain starts the real daemon (binary $COFFER_BIN, default ../../build/asan/cofferd, built by
// `make test-bin`) on a free loopback port with a fresh data directory and a known admin key, waits
// for its "cofferd ready port=N" line, builds the shared client `svc` (bearer key, service URL
// http://127.0.0.1:N/v2), runs every test, then stops the daemon with SIGTERM and fails the run if
// it did not exit 0 (under ASan that includes leaks). All tests share one daemon, so each test makes
// its own resources with uniqueName and never assumes an empty catalog.
//
// One file per resource (policies_test.go, groups_test.go, sources_test.go, ...). Helpers here:
//   - svc: the shared client; newService(t, key) builds one with another key.
//   - tenantA, tenantB: X-IBM-Tenant-Id values; every options struct takes
//     XIBMTenantID: core.StringPtr(tenantA). tenantB is for isolation checks.
//   - uniqueName(t, prefix): a name no other test uses in this daemon.
//   - wantStatus(t, resp, err, code) after a call that should succeed; wantError(t, resp, err, code)
//     after one that should fail, returning the message the SDK surfaced.
//   - rawCall / adminCall: requests the SDK cannot make (missing headers, malformed bodies,
//     operations absent from the SDK release we use).
//
// The SDK release: the wire contract was extracted from 1.2.5, but the Go module proxy serves only
// v1.0.3 of this module here, so go.mod pins v1.0.3. Its backuprecoveryv1 lacks CancelRecoveryByID,
// ConstructMetaInfo, GetProgressMonitors, GetProtectionGroupRun, GetProtectionRunProgress and
// ListProtectionSourcesRegistrationInfo: test those with rawCall. Its models carry the contract's
// JSON names and types for every field they have; they lack the Kubernetes params and a few fields
// such as DataSourceConnection.connectionEnvType (check those with rawCall too).
package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

const (
	adminKey = "conformance-admin-key-0123456789abcdef"
	tenantA  = "conformance-tenant-a"
	tenantB  = "conformance-tenant-b" // for isolation checks: must never see tenantA's resources
	// recoveryDelay: every recovery is held Running this long before it is done (test hook).
	recoveryDelay = 1500 * time.Millisecond
)

var (
	svc        *backuprecoveryv1.BackupRecoveryV1 // shared client with the admin key
	baseURL    string                             // http://127.0.0.1:N
	serviceURL string                             // baseURL + "/v2": what the SDK is given
	nameSeq    atomic.Int64
	dataDir    string // the daemon's data directory (agents_test.go adds connector rows to its catalog)
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func daemonBinary() (string, error) {
	bin := os.Getenv("COFFER_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "build", "asan", "cofferd")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("cofferd binary %s: %v (run `make test-bin` first or set COFFER_BIN)", abs, err)
	}
	return abs, nil
}

func runSuite(m *testing.M) int {
	bin, err := daemonBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "coffer-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer pgStop() // the suite's PostgreSQL (pg_test.go), when a test started it
	logPath := filepath.Join(dir, "cofferd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer logFile.Close()
	dumpLog := func() {
		if b, err := os.ReadFile(logPath); err == nil {
			fmt.Fprintf(os.Stderr, "--- cofferd log (%s):\n%s", logPath, b)
		}
	}

	dataDir = filepath.Join(dir, "data")
	cmd := exec.Command(bin, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	// The recovery delay hook holds every recovery Running for recoveryDelay, so that
	// TestCancelRecoveryByID's cancel lands on a recovery that is still running.
	cmd.Env = append(os.Environ(), "COFFER_ADMIN_KEY="+adminKey, "COFFER_TEST_HOOKS=1",
		fmt.Sprintf("COFFER_TEST_RECOVERY_DELAY_MS=%d", recoveryDelay.Milliseconds()))
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: cannot start cofferd:", err)
		return 1
	}
	exited := make(chan error, 1)
	portc := make(chan int, 1)
	go func() { // reads stdout: the ready line, then copies the rest into the log
		ready := regexp.MustCompile(`^cofferd ready port=(\d+)$`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if mm := ready.FindStringSubmatch(line); mm != nil {
				p, _ := strconv.Atoi(mm[1])
				portc <- p
			}
		}
		exited <- cmd.Wait()
	}()
	var port int
	select {
	case port = <-portc:
	case err := <-exited:
		fmt.Fprintf(os.Stderr, "conformance: cofferd exited before it was ready: %v\n", err)
		dumpLog()
		return 1
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "conformance: cofferd did not print its ready line within 60 s")
		_ = cmd.Process.Kill()
		<-exited
		dumpLog()
		return 1
	}
	baseURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	serviceURL = baseURL + "/v2"
	svc, err = newClient(adminKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: cannot build the client:", err)
		_ = cmd.Process.Kill()
		<-exited
		return 1
	}

	code := m.Run()

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			fmt.Fprintf(os.Stderr, "conformance: cofferd did not exit cleanly after SIGTERM: %v\n", err)
			code = 1
		}
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "conformance: cofferd did not stop within 30 s of SIGTERM")
		_ = cmd.Process.Kill()
		<-exited
		code = 1
	}
	if code != 0 {
		dumpLog()
	}
	return code
}

func newClient(key string) (*backuprecoveryv1.BackupRecoveryV1, error) {
	auth, err := core.NewBearerTokenAuthenticator(key)
	if err != nil {
		return nil, err
	}
	c, err := backuprecoveryv1.NewBackupRecoveryV1(&backuprecoveryv1.BackupRecoveryV1Options{
		URL:           serviceURL,
		Authenticator: auth,
	})
	if err != nil {
		return nil, err
	}
	c.Service.SetHTTPClient(&http.Client{Timeout: 60 * time.Second})
	return c, nil
}

// newService: a client of the running daemon that authenticates with key (the shared svc uses adminKey).
func newService(t *testing.T, key string) *backuprecoveryv1.BackupRecoveryV1 {
	t.Helper()
	c, err := newClient(key)
	if err != nil {
		t.Fatalf("cannot build a client: %v", err)
	}
	return c
}

// uniqueName: a name no other test (or run of this test) uses in this daemon.
func uniqueName(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, strings.ReplaceAll(t.Name(), "/", "-"), nameSeq.Add(1))
}

func statusOf(resp *core.DetailedResponse) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// wantStatus: the call succeeded with exactly the status code want. Fatal otherwise.
func wantStatus(t *testing.T, resp *core.DetailedResponse, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("want status %d, got %d and error: %v", want, statusOf(resp), err)
	}
	if statusOf(resp) != want {
		t.Fatalf("want status %d, got %d", want, statusOf(resp))
	}
}

// wantError: the call failed with status want; returns the error text the SDK gives its user (for a
// server error that is the "message" of the JSON body the server sent). Fatal otherwise.
func wantError(t *testing.T, resp *core.DetailedResponse, err error, want int) string {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error with status %d, got success with status %d", want, statusOf(resp))
	}
	if statusOf(resp) != want {
		t.Fatalf("want status %d, got %d (error: %v)", want, statusOf(resp), err)
	}
	return err.Error()
}

// rawResp is the answer to a rawCall.
type rawResp struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   any // decoded body when it was JSON, else nil
}

// Message: the "message" field of a JSON error body ("" when absent).
func (r *rawResp) Message() string {
	if m, ok := r.JSON.(map[string]any); ok {
		if s, ok := m["message"].(string); ok {
			return s
		}
	}
	return ""
}

// rawCall sends one HTTP request to the daemon. path is relative to the service URL
// ("/data-protect/policies"); tenant "" sends no X-IBM-Tenant-Id; auth is the whole Authorization
// value ("" = none; use "Bearer "+adminKey normally); body is sent as is when it is a string or
// []byte, else JSON-encoded (nil = no body).
func rawCall(t *testing.T, method, path, tenant, auth string, body any) *rawResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("rawCall: cannot encode body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, serviceURL+path, rd)
	if err != nil {
		t.Fatalf("rawCall: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tenant != "" {
		req.Header.Set("X-IBM-Tenant-Id", tenant)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c := &http.Client{Timeout: 60 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("rawCall %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &rawResp{Status: res.StatusCode, Header: res.Header}
	if out.Body, err = io.ReadAll(res.Body); err != nil {
		t.Fatalf("rawCall %s %s: reading body: %v", method, path, err)
	}
	if len(out.Body) > 0 {
		var j any
		if json.Unmarshal(out.Body, &j) == nil {
			out.JSON = j
		}
	}
	return out
}

// adminCall: rawCall with the admin key.
func adminCall(t *testing.T, method, path, tenant string, body any) *rawResp {
	t.Helper()
	return rawCall(t, method, path, tenant, "Bearer "+adminKey, body)
}
