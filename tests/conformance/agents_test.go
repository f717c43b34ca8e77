// agents_test.go: the operations with nothing to act on in Coffer, through the official client where
// SDK v1.0.3 has them: GetUpgradeTasks decodes an empty AgentUpgradeTaskStates; CreateUpgradeTask is
// refused with a 400 naming agentIDs (the built-in agent is upgraded with cofferd; other ids name no
// agent), never a pretended success. ConstructMetaInfo (absent from v1.0.3: raw) is 400 naming
// environment for a real snapshot, 404 for an unknown one. The [connector-side] operations answer
// 501 with a JSON message at the paths the client uses (root and /v2), without a tenant header.
package conformance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

func TestGetUpgradeTasks(t *testing.T) {
	res, resp, err := svc.GetUpgradeTasks(&backuprecoveryv1.GetUpgradeTasksOptions{XIBMTenantID: core.StringPtr(tenantA)})
	wantStatus(t, resp, err, 200)
	if res == nil || len(res.Tasks) != 0 {
		t.Fatalf("want no tasks, got %+v", res)
	}
	if r := adminCall(t, "GET", "/data-protect/agents/upgrade-tasks", tenantA, nil); r.Status != 200 ||
		string(r.Body) != `{"tasks":[]}` {
		t.Fatalf("want {\"tasks\":[]}, got %d %s", r.Status, r.Body)
	}
	res, resp, err = svc.GetUpgradeTasks(&backuprecoveryv1.GetUpgradeTasksOptions{
		XIBMTenantID: core.StringPtr(tenantA), Ids: []int64{1, 2},
	})
	wantStatus(t, resp, err, 200)
	if len(res.Tasks) != 0 {
		t.Fatalf("ids=1,2: %+v", res.Tasks)
	}
	if r := adminCall(t, "GET", "/data-protect/agents/upgrade-tasks?ids=one", tenantA, nil); r.Status != 400 ||
		!strings.Contains(r.Message(), "ids") {
		t.Fatalf("ids=one: %d %s", r.Status, r.Body)
	}
}

func TestCreateUpgradeTask(t *testing.T) {
	tenant, host, _, _ := groupEnv(t)
	create := func(o *backuprecoveryv1.CreateUpgradeTaskOptions) string {
		t.Helper()
		o.XIBMTenantID = core.StringPtr(tenant)
		res, resp, err := svc.CreateUpgradeTask(o)
		if res != nil && res.ID != nil {
			t.Fatalf("an upgrade task was created: %+v", res)
		}
		return wantError(t, resp, err, 400)
	}
	if msg := create(&backuprecoveryv1.CreateUpgradeTaskOptions{AgentIDs: []int64{424242}, Name: core.StringPtr("up")}); !strings.Contains(msg, "agentIDs[0]") ||
		!strings.Contains(msg, "no agent with id 424242 is registered") {
		t.Fatalf("unknown agent: %q", msg)
	}
	if msg := create(&backuprecoveryv1.CreateUpgradeTaskOptions{AgentIDs: []int64{host}}); !strings.Contains(msg, "agentIDs[0]") ||
		!strings.Contains(msg, "built into cofferd") {
		t.Fatalf("built-in agent: %q", msg)
	}
	if msg := create(&backuprecoveryv1.CreateUpgradeTaskOptions{}); !strings.Contains(msg, "agentIDs") {
		t.Fatalf("no agents: %q", msg)
	}
	if msg := create(&backuprecoveryv1.CreateUpgradeTaskOptions{
		AgentIDs: []int64{host}, ScheduleTimeUsecs: core.Int64Ptr(2000), ScheduleEndTimeUsecs: core.Int64Ptr(1000),
	}); !strings.Contains(msg, "scheduleEndTimeUsecs") {
		t.Fatalf("end before start: %q", msg)
	}
	if msg := create(&backuprecoveryv1.CreateUpgradeTaskOptions{RetryTaskID: core.Int64Ptr(5)}); !strings.Contains(msg, "retryTaskId") {
		t.Fatalf("retry of no task: %q", msg)
	}
	// Another tenant does not see this tenant's host as an agent.
	_, resp, err := svc.CreateUpgradeTask(&backuprecoveryv1.CreateUpgradeTaskOptions{
		XIBMTenantID: core.StringPtr(tenantB), AgentIDs: []int64{host},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "no agent with id") {
		t.Fatalf("other tenant: %q", msg)
	}
	res, resp, err := svc.GetUpgradeTasks(&backuprecoveryv1.GetUpgradeTasksOptions{XIBMTenantID: core.StringPtr(tenant)})
	wantStatus(t, resp, err, 200)
	if len(res.Tasks) != 0 {
		t.Fatalf("refusals created tasks: %+v", res.Tasks)
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
