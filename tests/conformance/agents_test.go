// agents_test.go: the agents' operations through the official client: CreateUpgradeTask and
// GetUpgradeTasks (tasks for connectors recorded in the daemon's catalog as a registration records
// them; refusals name the field and create nothing; AgentUpgradeTaskState decoded by the client;
// tenants isolated) and DownloadAgent (kDEB and kScript bytes equal to the packages built from the
// tree; other types and platforms 400 naming the field). The upgrade states that agents' heartbeats
// drive are e2e_upgrade_tasks's. ConstructMetaInfo (absent from v1.0.3: raw) is 400 naming
// environment for a real snapshot, 404 for an unknown one. The [connector-side] operations answer
// 501 with a JSON message at the paths the client uses (root and /v2), without a tenant header.
package conformance

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

// addConnector records a registered data-source connector of tenant in the daemon's catalog, as an
// agent's registration does (the sqlite3 client, waiting up to 5 s for the daemon's writes).
func addConnector(t *testing.T, tenant, id string) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("the sqlite3 client is not installed (needed to record a connector)")
	}
	sql := fmt.Sprintf("INSERT INTO connectors(tenant, id, connection_id, name, doc) VALUES ('%s', '%s', '1', 'host-%s', '{}');",
		tenant, id, id)
	if out, err := exec.Command("sqlite3", "-cmd", ".timeout 5000", filepath.Join(dataDir, "catalog.db"), sql).CombinedOutput(); err != nil {
		t.Fatalf("recording connector %s: %v %s", id, err, out)
	}
}

func TestUpgradeTasks(t *testing.T) {
	tenant := uniqueName(t, "upgrade-tenant")
	addConnector(t, tenant, "7101")
	addConnector(t, tenant, "7102")
	addConnector(t, tenantB, "7201")
	create := func(o *backuprecoveryv1.CreateUpgradeTaskOptions) (*backuprecoveryv1.AgentUpgradeTaskState, *core.DetailedResponse, error) {
		if o.XIBMTenantID == nil {
			o.XIBMTenantID = core.StringPtr(tenant)
		}
		return svc.CreateUpgradeTask(o)
	}
	// refusals name the field and create nothing
	_, resp, err := create(&backuprecoveryv1.CreateUpgradeTaskOptions{AgentIDs: []int64{7101, 424242}, Name: core.StringPtr("up")})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "agentIDs[1]") || !strings.Contains(msg, "424242") {
		t.Fatalf("unknown agent: %q", msg)
	}
	_, resp, err = create(&backuprecoveryv1.CreateUpgradeTaskOptions{AgentIDs: []int64{7201}})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "agentIDs[0]") {
		t.Fatalf("another tenant's connector: %q", msg)
	}
	_, resp, err = create(&backuprecoveryv1.CreateUpgradeTaskOptions{})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "agentIDs") {
		t.Fatalf("no agents: %q", msg)
	}
	now := time.Now().UnixMicro()
	_, resp, err = create(&backuprecoveryv1.CreateUpgradeTaskOptions{
		AgentIDs: []int64{7101}, ScheduleTimeUsecs: core.Int64Ptr(now + 2e9), ScheduleEndTimeUsecs: core.Int64Ptr(now + 1e9),
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "scheduleEndTimeUsecs") {
		t.Fatalf("end before start: %q", msg)
	}
	_, resp, err = create(&backuprecoveryv1.CreateUpgradeTaskOptions{RetryTaskID: core.Int64Ptr(987654)})
	if msg := wantError(t, resp, err, 404); !strings.Contains(msg, "retryTaskId") {
		t.Fatalf("retry of no task: %q", msg)
	}
	list, resp, err := svc.GetUpgradeTasks(&backuprecoveryv1.GetUpgradeTasksOptions{XIBMTenantID: core.StringPtr(tenant)})
	wantStatus(t, resp, err, 200)
	if len(list.Tasks) != 0 {
		t.Fatalf("refusals created tasks: %+v", list.Tasks)
	}
	// a task, as the client decodes it
	at := now + 3600e6
	task, resp, err := create(&backuprecoveryv1.CreateUpgradeTaskOptions{
		AgentIDs: []int64{7101, 7102}, Name: core.StringPtr("to the daemon's version"), Description: core.StringPtr("fleet"),
		ScheduleTimeUsecs: core.Int64Ptr(at),
	})
	wantStatus(t, resp, err, 201)
	if task.ID == nil || *task.ID <= 0 || *task.Status != "Scheduled" || *task.Type != "Manual" ||
		*task.Name != "to the daemon's version" || *task.ScheduleTimeUsecs != at || len(task.AgentIDs) != 2 ||
		len(task.Agents) != 2 || *task.Agents[0].ID != 7101 || *task.Agents[0].Info.Status != "Scheduled" ||
		task.ClusterVersion == nil || *task.ClusterVersion == "" {
		t.Fatalf("created task: %+v", task)
	}
	list, resp, err = svc.GetUpgradeTasks(&backuprecoveryv1.GetUpgradeTasksOptions{
		XIBMTenantID: core.StringPtr(tenant), Ids: []int64{*task.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(list.Tasks) != 1 || *list.Tasks[0].ID != *task.ID || *list.Tasks[0].Description != "fleet" {
		t.Fatalf("listed: %+v", list.Tasks)
	}
	// a task is not retryable before it failed
	_, resp, err = create(&backuprecoveryv1.CreateUpgradeTaskOptions{RetryTaskID: task.ID})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "only a Failed or PartiallyFailed task") {
		t.Fatalf("retry of a scheduled task: %q", msg)
	}
	// tenants do not see each other's tasks
	list, resp, err = svc.GetUpgradeTasks(&backuprecoveryv1.GetUpgradeTasksOptions{
		XIBMTenantID: core.StringPtr(tenantB), Ids: []int64{*task.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(list.Tasks) != 0 {
		t.Fatalf("tenant B sees: %+v", list.Tasks)
	}
	if r := adminCall(t, "GET", "/data-protect/agents/upgrade-tasks?ids=one", tenant, nil); r.Status != 400 ||
		!strings.Contains(r.Message(), "ids") {
		t.Fatalf("ids=one: %d %s", r.Status, r.Body)
	}
}

func TestDownloadAgent(t *testing.T) {
	for _, c := range []struct{ typ, ext string }{{"kDEB", "deb"}, {"kScript", "sh"}} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "build", "agent", "coffer-agent_*."+c.ext))
		if len(files) == 0 {
			t.Fatalf("no built %s package under build/agent (make agent-packages)", c.ext)
		}
		res, resp, err := svc.DownloadAgent(&backuprecoveryv1.DownloadAgentOptions{
			XIBMTenantID: core.StringPtr(tenantA), Platform: core.StringPtr("kLinux"),
			LinuxParams: &backuprecoveryv1.LinuxAgentParams{PackageType: core.StringPtr(c.typ)},
		})
		wantStatus(t, resp, err, 200)
		got, err := io.ReadAll(res)
		res.Close()
		if err != nil {
			t.Fatalf("%s: reading: %v", c.typ, err)
		}
		var want []byte
		for _, f := range files { // the package of the daemon's version: the one whose bytes match
			if b, err := os.ReadFile(f); err == nil && bytes.Equal(b, got) {
				want = b
			}
		}
		if want == nil || len(got) == 0 {
			t.Fatalf("%s: %d bytes equal no package of %v", c.typ, len(got), files)
		}
		if cd := resp.GetHeaders().Get("Content-Disposition"); !strings.Contains(cd, "coffer-agent_") ||
			!strings.Contains(cd, "."+c.ext) {
			t.Fatalf("%s: Content-Disposition %q", c.typ, cd)
		}
	}
	for _, c := range []struct {
		platform, typ, want string
	}{
		{"kLinux", "kRPM", "linuxParams.packageType"},
		{"kLinux", "kSuseRPM", "kDEB and kScript"},
		{"kWindows", "kDEB", "platform"},
	} {
		_, resp, err := svc.DownloadAgent(&backuprecoveryv1.DownloadAgentOptions{
			XIBMTenantID: core.StringPtr(tenantA), Platform: core.StringPtr(c.platform),
			LinuxParams: &backuprecoveryv1.LinuxAgentParams{PackageType: core.StringPtr(c.typ)},
		})
		if msg := wantError(t, resp, err, 400); !strings.Contains(msg, c.want) {
			t.Fatalf("%s %s: %q", c.platform, c.typ, msg)
		}
	}
}

func TestConstructMetaInfo(t *testing.T) {
	f := newRunFixture(t)
	path := "/data-protect/snapshots/" + f.snapID + "/meta-info"
	for _, env := range []string{"kOracle", "kSfdc", "kKubernetes", "kPhysical"} {
		body := map[string]any{"environment": env}
		switch env {
		case "kOracle":
			body["oracleParams"] = map[string]any{"dbName": "orcl", "isClone": true}
		case "kSfdc":
			body["sfdcParams"] = map[string]any{"metaInfoType": "DependentObjects", "objectName": "Account"}
		case "kKubernetes":
			body["kubernetesParams"] = map[string]any{"objectId": 7}
		}
		r := adminCall(t, "POST", path, f.tenant, body)
		want := fmt.Sprintf("meta-info is not available for environment %s", env)
		if r.Status != 400 || !strings.Contains(r.Message(), want) || !strings.Contains(r.Message(), "environment") {
			t.Fatalf("%s: %d %s", env, r.Status, r.Body)
		}
	}
	zeros := strings.Repeat("0", 64)
	if r := adminCall(t, "POST", "/data-protect/snapshots/"+zeros+"/meta-info", f.tenant,
		map[string]any{"environment": "kOracle"}); r.Status != 404 {
		t.Fatalf("unknown snapshot: %d %s", r.Status, r.Body)
	}
	if r := adminCall(t, "POST", path, tenantB, map[string]any{"environment": "kOracle"}); r.Status != 404 {
		t.Fatalf("another tenant's snapshot: %d %s", r.Status, r.Body)
	}
	if r := adminCall(t, "POST", "/data-protect/snapshots/not-a-snapshot/meta-info", f.tenant,
		map[string]any{"environment": "kOracle"}); r.Status != 400 || !strings.Contains(r.Message(), "snapshotId") {
		t.Fatalf("malformed snapshot id: %d %s", r.Status, r.Body)
	}
	if r := adminCall(t, "POST", path, f.tenant, map[string]any{}); r.Status != 400 ||
		!strings.Contains(r.Message(), "environment") {
		t.Fatalf("no environment: %d %s", r.Status, r.Body)
	}
	if r := adminCall(t, "POST", path, f.tenant, map[string]any{"environment": "kSfdc", "sfdcParams": map[string]any{}}); r.Status != 400 ||
		!strings.Contains(r.Message(), "sfdcParams.metaInfoType") {
		t.Fatalf("sfdcParams without metaInfoType: %d %s", r.Status, r.Body)
	}
}

func TestConnectorSideOperations(t *testing.T) {
	ops := []struct{ method, path, op string }{
		{"POST", "/access-tokens", "CreateAccessToken"},
		{"GET", "/data-source-connector/logs", "GetDataSourceConnectorLogs"},
		{"POST", "/data-source-connector/registration", "RegisterDataSourceConnector"},
		{"GET", "/data-source-connector/status", "GetDataSourceConnectorStatus"},
		{"GET", "/irisservices/api/v1/public/users", "GetUsers"},
		{"PUT", "/irisservices/api/v1/public/users", "UpdateUser"},
	}
	for _, o := range ops {
		var body any
		if o.method != "GET" {
			body = map[string]any{"username": "admin", "registrationToken": "t"}
		}
		for _, r := range []*rawResp{
			rootCall(t, o.method, o.path, "", nil, body), // the connector's own URL or the root (users)
			adminCall(t, o.method, o.path, "", body),     // under /v2
		} {
			if r.Status != 501 || !strings.Contains(r.Message(), "served by a data-source connector, not by cofferd") ||
				!strings.Contains(r.Message(), o.op) {
				t.Fatalf("%s %s: %d %s", o.method, o.path, r.Status, r.Body)
			}
		}
	}
	if r := rawCall(t, "POST", "/access-tokens", "", "", map[string]any{"username": "u"}); r.Status != 401 {
		t.Fatalf("without a key: %d %s", r.Status, r.Body)
	}
	// The cluster's own connector operations are untouched.
	_, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{XIBMTenantID: core.StringPtr(tenantA)})
	wantStatus(t, resp, err, 200)
}
