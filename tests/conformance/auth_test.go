// auth_test.go: authentication as the SDK sees it: a wrong bearer key is a 401 whose JSON "message"
// is what the SDK shows its user; the right key gets through the front door.
package conformance

import (
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

func TestWrongKeyIs401WithServerMessage(t *testing.T) {
	raw := rawCall(t, "GET", "/data-protect/policies", tenantA, "Bearer not-the-key", nil)
	if raw.Status != 401 {
		t.Fatalf("raw call with a wrong key: want 401, got %d", raw.Status)
	}
	msg := raw.Message()
	if msg == "" {
		t.Fatalf("401 body has no JSON \"message\": %q", raw.Body)
	}
	bad := newService(t, "not-the-key")
	_, resp, err := bad.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantA),
	})
	got := wantError(t, resp, err, 401)
	if !strings.Contains(got, msg) {
		t.Fatalf("the SDK's error %q does not carry the server's message %q", got, msg)
	}
}

func TestNoKeyIs401(t *testing.T) {
	raw := rawCall(t, "GET", "/data-protect/policies", tenantA, "", nil)
	if raw.Status != 401 || raw.Message() == "" {
		t.Fatalf("no Authorization header: want 401 with a JSON message, got %d %q", raw.Status, raw.Body)
	}
}
