// access_test.go: API keys as the SDK sees them. A Viewer key of tenantA (made with Coffer's keys
// resource, POST /v2/coffer/keys, by the admin key) lists tenantA's policies through the official
// client and sees the policy the admin made there; creating a policy with it is refused with 403
// and a message naming the Admin role, and nothing is created; naming tenantB with it is 403.
package conformance

import (
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

func TestTenantViewerKeyListsAndCannotCreate(t *testing.T) {
	made := createPolicy(t, tenantA, uniqueName(t, "viewer-sees"))
	raw := adminCall(t, "POST", "/coffer/keys", "", map[string]any{
		"name": uniqueName(t, "viewer"), "tenantId": tenantA, "roles": []string{"Viewer"},
	})
	if raw.Status != 201 {
		t.Fatalf("create a Viewer key: want 201, got %d %s", raw.Status, raw.Body)
	}
	secret, _ := raw.JSON.(map[string]any)["secret"].(string)
	if !strings.HasPrefix(secret, "cfk_") {
		t.Fatalf("the key's secret: %q", secret)
	}
	viewer := newService(t, secret)

	res, resp, err := viewer.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantA),
	})
	wantStatus(t, resp, err, 200)
	found := false
	for _, p := range res.Policies {
		found = found || (p.ID != nil && *p.ID == *made.ID)
	}
	if !found {
		t.Fatalf("the Viewer key's list lacks policy %s", *made.ID)
	}

	name := uniqueName(t, "viewer-create")
	_, resp, err = viewer.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Name:         core.StringPtr(name),
		BackupPolicy: hourlyBackupPolicy(6, 14),
	})
	msg := wantError(t, resp, err, 403)
	if !strings.Contains(msg, "Admin") {
		t.Fatalf("the 403's message does not name the role needed: %q", msg)
	}
	if got := policyNamed(t, tenantA, name); len(got) != 0 {
		t.Fatalf("a refused create left a policy: %v", got)
	}

	_, resp, err = viewer.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantB),
	})
	wantError(t, resp, err, 403)
}
