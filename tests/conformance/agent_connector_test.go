// agent_connector_test.go: a real coffer-agent (../../build/asan/coffer-agent, or $COFFER_AGENT_BIN)
// registers with a token the official client generated, sends a heartbeat, and the official client's
// GetDataSourceConnectors decodes it (name, connection, connectivity, software version);
// PatchDataSourceConnector renames it; DeleteDataSourceConnector removes it and revokes its
// credential: the agent's next heartbeat is refused and it exits with status 3.
package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

func agentBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("COFFER_AGENT_BIN")
	if bin == "" {
		bin = "../../build/asan/coffer-agent"
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatalf("agent binary: %v", err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("agent binary %s: %v (run make test-bin)", abs, err)
	}
	return abs
}

// runAgent runs coffer-agent with args; its exit status and combined output.
func runAgent(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("coffer-agent %v: %v", args, err)
	}
	return 0, string(out)
}

func TestAgentConnectorThroughTheClient(t *testing.T) {
	bin := agentBinary(t)
	state := t.TempDir()
	c := createConnection(t, tenantA, uniqueName(t, "agentconn"))
	tok, resp, err := svc.GenerateDataSourceConnectionRegistrationToken(
		&backuprecoveryv1.GenerateDataSourceConnectionRegistrationTokenOptions{
			XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
		})
	wantStatus(t, resp, err, 200)
	host := uniqueName(t, "host") + ".test"
	if st, out := runAgent(t, bin, "register", "--server", baseURL, "--token", *tok, "--state-dir", state,
		"--hostname", host); st != 0 {
		t.Fatalf("register: exit %d: %s", st, out)
	}
	if st, out := runAgent(t, bin, "run", "--state-dir", state, "--hostname", host, "--address", "127.0.0.9",
		"--beats", "1"); st != 0 {
		t.Fatalf("run: exit %d: %s", st, out)
	}
	list, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
	})
	wantStatus(t, resp, err, 200)
	if len(list.Connectors) != 1 {
		t.Fatalf("want the registered agent's connector, got %+v", list.Connectors)
	}
	k := list.Connectors[0]
	if k.ConnectorID == nil || *k.ConnectorID == "" || k.ConnectorName == nil || *k.ConnectorName != host ||
		k.ConnectionID == nil || *k.ConnectionID != *c.ConnectionID {
		t.Fatalf("connector decoded wrong: %+v", k)
	}
	if k.ConnectivityStatus == nil || k.ConnectivityStatus.IsConnected == nil || !*k.ConnectivityStatus.IsConnected ||
		k.ConnectivityStatus.LastConnectedTimestampSecs == nil || *k.ConnectivityStatus.LastConnectedTimestampSecs <= 0 {
		t.Fatalf("connectivity after a heartbeat: %+v", k.ConnectivityStatus)
	}
	if k.SoftwareVersion == nil || *k.SoftwareVersion == "" || k.TenantSideIp == nil || *k.TenantSideIp != "127.0.0.9" {
		t.Fatalf("software version / tenant-side address: %+v", k)
	}
	// by id and by name
	byID, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectorIds: []string{*k.ConnectorID},
	})
	wantStatus(t, resp, err, 200)
	if len(byID.Connectors) != 1 {
		t.Fatalf("by id: %+v", byID.Connectors)
	}
	renamed := uniqueName(t, "renamed")
	p, resp, err := svc.PatchDataSourceConnector(&backuprecoveryv1.PatchDataSourceConnectorOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectorID: k.ConnectorID, ConnectorName: core.StringPtr(renamed),
	})
	wantStatus(t, resp, err, 200)
	if p.ConnectorName == nil || *p.ConnectorName != renamed || *p.ConnectorID != *k.ConnectorID {
		t.Fatalf("patched connector decoded wrong: %+v", p)
	}
	byName, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectorNames: []string{renamed},
	})
	wantStatus(t, resp, err, 200)
	if len(byName.Connectors) != 1 {
		t.Fatalf("by the new name: %+v", byName.Connectors)
	}
	// another tenant does not see it
	other, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{
		XIBMTenantID: core.StringPtr(tenantB), ConnectorIds: []string{*k.ConnectorID},
	})
	wantStatus(t, resp, err, 200)
	if len(other.Connectors) != 0 {
		t.Fatalf("tenant B sees tenant A's connector")
	}
	resp, err = svc.DeleteDataSourceConnector(&backuprecoveryv1.DeleteDataSourceConnectorOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectorID: k.ConnectorID,
	})
	wantStatus(t, resp, err, 204)
	if st, out := runAgent(t, bin, "run", "--state-dir", state, "--hostname", host, "--beats", "1"); st != 3 {
		t.Fatalf("a deleted connector's agent: want exit 3 (credential refused), got %d: %s", st, out)
	}
	after, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
	})
	wantStatus(t, resp, err, 200)
	if len(after.Connectors) != 0 {
		t.Fatalf("deleted connector still listed: %+v", after.Connectors)
	}
}
