// groups_test.go: protection groups through the official client: CreateProtectionGroup,
// GetProtectionGroups, GetProtectionGroupByID, UpdateProtectionGroup (including pause and resume)
// and DeleteProtectionGroup answer with the status codes the SDK expects, what it decodes carries the
// values sent, bad references (policy, objects) are refused with a message naming the field, stale
// updates are 412, deletion is soft (listed with isDeleted=true), and another tenant never sees a
// group.
//
// kPhysical groups need objects registered in their tenant: those tests register this machine in a
// tenant of their own (sourceTenant, registerLocal from sources_test.go).
package conformance

import (
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

// createSQLGroup makes a kSQL group over the suite's PostgreSQL instance (pg_test.go) with policy
// policyID.
func createSQLGroup(t *testing.T, tenant, name, policyID string) *backuprecoveryv1.ProtectionGroupResponse {
	t.Helper()
	instance := sqlInstance(t, tenant)
	res, resp, err := svc.CreateProtectionGroup(&backuprecoveryv1.CreateProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Name:         core.StringPtr(name),
		PolicyID:     core.StringPtr(policyID),
		Environment:  core.StringPtr("kSQL"),
		MssqlParams: &backuprecoveryv1.MSSQLProtectionGroupParams{
			ProtectionType: core.StringPtr("kNative"),
			NativeProtectionTypeParams: &backuprecoveryv1.MSSQLNativeProtectionGroupParams{
				Objects:    []backuprecoveryv1.MSSQLNativeProtectionGroupObjectParams{{ID: core.Int64Ptr(instance)}},
				NumStreams: core.Int64Ptr(2),
			},
		},
	})
	wantStatus(t, resp, err, 201)
	if res.ID == nil || !resourceIDPattern.MatchString(*res.ID) {
		t.Fatalf("group id: want clusterId:incarnationId:n, got %v", res.ID)
	}
	return res
}

// fileGroupOptions: a kFile group over object objectID protecting path.
func fileGroupOptions(tenant, name, policyID string, objectID int64, path string) *backuprecoveryv1.CreateProtectionGroupOptions {
	return &backuprecoveryv1.CreateProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Name:         core.StringPtr(name),
		PolicyID:     core.StringPtr(policyID),
		Environment:  core.StringPtr("kPhysical"),
		Priority:     core.StringPtr("kHigh"),
		Description:  core.StringPtr("home directories"),
		StartTime:    &backuprecoveryv1.TimeOfDay{Hour: core.Int64Ptr(22), Minute: core.Int64Ptr(15)},
		QosPolicy:    core.StringPtr("kBackupHDD"),
		PhysicalParams: &backuprecoveryv1.PhysicalProtectionGroupParams{
			ProtectionType: core.StringPtr("kFile"),
			FileProtectionTypeParams: &backuprecoveryv1.PhysicalFileProtectionGroupParams{
				Objects: []backuprecoveryv1.PhysicalFileProtectionGroupObjectParams{{
					ID: core.Int64Ptr(objectID),
					FilePaths: []backuprecoveryv1.PhysicalFileBackupPathParams{{
						IncludedPath:  core.StringPtr(path),
						ExcludedPaths: []string{path + "/tmp"},
					}},
				}},
				GlobalExcludePaths: []string{"*.swp"},
			},
		},
	}
}

// groupEnv: a tenant with this machine registered and a policy: (tenant, host object id, volume id, policy id).
func groupEnv(t *testing.T) (string, int64, int64, string) {
	t.Helper()
	tenant := sourceTenant(t)
	reg := registerLocal(t, tenant, uniqueName(t, "host"))
	if reg.SourceInfo == nil || reg.SourceInfo.ID == nil || len(reg.SourceInfo.ChildObjects) == 0 {
		t.Fatalf("the registration has no host object with volumes: %+v", reg.SourceInfo)
	}
	p := createPolicy(t, tenant, uniqueName(t, "policy"))
	return tenant, *reg.SourceInfo.ID, *reg.SourceInfo.ChildObjects[0].ID, *p.ID
}

func TestCreateProtectionGroup(t *testing.T) {
	tenant, host, volume, policy := groupEnv(t)
	name := uniqueName(t, "files")
	res, resp, err := svc.CreateProtectionGroup(fileGroupOptions(tenant, name, policy, host, "/home"))
	wantStatus(t, resp, err, 201)
	if res.ID == nil || !resourceIDPattern.MatchString(*res.ID) {
		t.Fatalf("id: %v", res.ID)
	}
	if *res.Name != name || *res.PolicyID != policy || *res.Environment != "kPhysical" || *res.Priority != "kHigh" ||
		*res.Description != "home directories" || *res.StartTime.Hour != 22 || *res.QosPolicy != "kBackupHDD" {
		t.Fatalf("decoded group does not carry the values sent: %+v", res)
	}
	if !*res.IsActive || *res.IsPaused || *res.IsDeleted || res.LastModifiedTimestampUsecs == nil {
		t.Fatalf("flags: active %v paused %v deleted %v", res.IsActive, res.IsPaused, res.IsDeleted)
	}
	fp := res.PhysicalParams.FileProtectionTypeParams
	if *res.PhysicalParams.ProtectionType != "kFile" || len(fp.Objects) != 1 || *fp.Objects[0].ID != host ||
		*fp.Objects[0].FilePaths[0].IncludedPath != "/home" || fp.Objects[0].FilePaths[0].ExcludedPaths[0] != "/home/tmp" ||
		fp.GlobalExcludePaths[0] != "*.swp" {
		t.Fatalf("physical params: %+v", res.PhysicalParams)
	}

	vol, resp, err := svc.CreateProtectionGroup(&backuprecoveryv1.CreateProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Name:         core.StringPtr(uniqueName(t, "volume")),
		PolicyID:     core.StringPtr(policy),
		Environment:  core.StringPtr("kPhysical"),
		IsPaused:     core.BoolPtr(true),
		PhysicalParams: &backuprecoveryv1.PhysicalProtectionGroupParams{
			ProtectionType: core.StringPtr("kVolume"),
			VolumeProtectionTypeParams: &backuprecoveryv1.PhysicalVolumeProtectionGroupParams{
				Objects: []backuprecoveryv1.PhysicalVolumeProtectionGroupObjectParams{{ID: core.Int64Ptr(volume)}},
			},
		},
	})
	wantStatus(t, resp, err, 201)
	if !*vol.IsPaused || *vol.PhysicalParams.VolumeProtectionTypeParams.Objects[0].ID != volume {
		t.Fatalf("volume group: %+v", vol)
	}

	sql := createSQLGroup(t, tenant, uniqueName(t, "sql"), policy)
	if *sql.Environment != "kSQL" || *sql.MssqlParams.ProtectionType != "kNative" ||
		*sql.MssqlParams.NativeProtectionTypeParams.NumStreams != 2 {
		t.Fatalf("sql group: %+v", sql.MssqlParams)
	}

	// The same name again is a conflict.
	_, resp, err = svc.CreateProtectionGroup(fileGroupOptions(tenant, name, policy, host, "/srv"))
	wantError(t, resp, err, 409)
}

func TestCreateProtectionGroupBadInput(t *testing.T) {
	tenant, host, _, policy := groupEnv(t)
	name := uniqueName(t, "bad")
	cases := []struct {
		opts *backuprecoveryv1.CreateProtectionGroupOptions
		want string
	}{
		{fileGroupOptions(tenant, name, policy, 987654321, "/home"), "physicalParams.fileProtectionTypeParams.objects[0].id"},
		{fileGroupOptions(tenant, name, "1:1:987654321", host, "/home"), "policyId"},
		{fileGroupOptions(tenant, name, "gold", host, "/home"), "policyId"},
		{fileGroupOptions(tenant, name, policy, host, "relative/path"), "includedPath"},
	}
	for i, c := range cases {
		_, resp, err := svc.CreateProtectionGroup(c.opts)
		if msg := wantError(t, resp, err, 400); !strings.Contains(msg, c.want) {
			t.Fatalf("case %d: message %q does not name %q", i, msg, c.want)
		}
	}
	// A policy of another tenant is not this tenant's.
	other := createPolicy(t, tenantB, uniqueName(t, "other-tenant-policy"))
	_, resp, err := svc.CreateProtectionGroup(fileGroupOptions(tenant, name, *other.ID, host, "/home"))
	wantError(t, resp, err, 400)
	raw := adminCall(t, "POST", "/data-protect/protection-groups", tenant,
		map[string]any{"name": name, "policyId": policy, "environment": "kVMware"})
	if raw.Status != 400 || !strings.Contains(raw.Message(), "environment") {
		t.Fatalf("unknown environment: want 400 naming environment, got %d %q", raw.Status, raw.Body)
	}
	res, resp, err := svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenant), Names: []string{name},
	})
	wantStatus(t, resp, err, 200)
	if len(res.ProtectionGroups) != 0 {
		t.Fatalf("refused creates left groups behind: %+v", res.ProtectionGroups)
	}
}

func TestGetProtectionGroups(t *testing.T) {
	p1 := createPolicy(t, tenantA, uniqueName(t, "p1"))
	p2 := createPolicy(t, tenantA, uniqueName(t, "p2"))
	g1 := createSQLGroup(t, tenantA, uniqueName(t, "g1"), *p1.ID)
	g2 := createSQLGroup(t, tenantA, uniqueName(t, "g2"), *p2.ID)
	res, resp, err := svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID:       core.StringPtr(tenantA),
		Names:              []string{*g1.Name, *g2.Name},
		Environments:       []string{"kSQL"},
		IsDeleted:          core.BoolPtr(false),
		IncludeLastRunInfo: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if len(res.ProtectionGroups) != 2 || *res.ProtectionGroups[0].ID != *g1.ID || *res.ProtectionGroups[1].ID != *g2.ID {
		t.Fatalf("list by names: %+v", res.ProtectionGroups)
	}
	if *res.ProtectionGroups[1].PolicyID != *p2.ID || *res.ProtectionGroups[1].MssqlParams.ProtectionType != "kNative" {
		t.Fatalf("listed group does not carry the values sent: %+v", res.ProtectionGroups[1])
	}

	res, resp, err = svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		PolicyIds:    []string{*p2.ID},
		IsPaused:     core.BoolPtr(false),
		IsActive:     core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if len(res.ProtectionGroups) != 1 || *res.ProtectionGroups[0].ID != *g2.ID {
		t.Fatalf("list by policy: %+v", res.ProtectionGroups)
	}

	res, resp, err = svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Ids:          []string{*g1.ID},
		Environments: []string{"kPhysical"},
	})
	wantStatus(t, resp, err, 200)
	if len(res.ProtectionGroups) != 0 {
		t.Fatalf("environment filter: %+v", res.ProtectionGroups)
	}

	res, resp, err = svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenantB),
		Ids:          []string{*g1.ID, *g2.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(res.ProtectionGroups) != 0 {
		t.Fatalf("tenant B sees tenant A's groups: %+v", res.ProtectionGroups)
	}
}

func TestGetProtectionGroupByID(t *testing.T) {
	p := createPolicy(t, tenantA, uniqueName(t, "policy"))
	g := createSQLGroup(t, tenantA, uniqueName(t, "byid"), *p.ID)
	res, resp, err := svc.GetProtectionGroupByID(&backuprecoveryv1.GetProtectionGroupByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: g.ID, IncludeLastRunInfo: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if *res.ID != *g.ID || *res.Name != *g.Name || *res.PolicyID != *p.ID ||
		*res.LastModifiedTimestampUsecs != *g.LastModifiedTimestampUsecs ||
		*res.MssqlParams.NativeProtectionTypeParams.Objects[0].ID != sqlInstance(t, tenantA) {
		t.Fatalf("get by id does not carry the values sent: %+v", res)
	}
	_, resp, err = svc.GetProtectionGroupByID(&backuprecoveryv1.GetProtectionGroupByIdOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: g.ID,
	})
	wantError(t, resp, err, 404)
	_, resp, err = svc.GetProtectionGroupByID(&backuprecoveryv1.GetProtectionGroupByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: core.StringPtr("1:1:987654321"),
	})
	wantError(t, resp, err, 404)
	_, resp, err = svc.GetProtectionGroupByID(&backuprecoveryv1.GetProtectionGroupByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: core.StringPtr("group-one"),
	})
	wantError(t, resp, err, 400)
}

func TestUpdateProtectionGroup(t *testing.T) {
	tenant, host, _, policy := groupEnv(t)
	other := createPolicy(t, tenant, uniqueName(t, "other"))
	created, resp, err := svc.CreateProtectionGroup(fileGroupOptions(tenant, uniqueName(t, "upd"), policy, host, "/home"))
	wantStatus(t, resp, err, 201)

	// Pause, move to another policy, protect another path.
	c := fileGroupOptions(tenant, *created.Name, *other.ID, host, "/srv")
	opts := &backuprecoveryv1.UpdateProtectionGroupOptions{
		XIBMTenantID:               core.StringPtr(tenant),
		ID:                         created.ID,
		Name:                       c.Name,
		PolicyID:                   c.PolicyID,
		Environment:                c.Environment,
		Description:                core.StringPtr("paused for maintenance"),
		IsPaused:                   core.BoolPtr(true),
		LastModifiedTimestampUsecs: created.LastModifiedTimestampUsecs,
		PhysicalParams:             c.PhysicalParams,
	}
	res, resp, err := svc.UpdateProtectionGroup(opts)
	wantStatus(t, resp, err, 200)
	if *res.ID != *created.ID || !*res.IsPaused || *res.PolicyID != *other.ID || *res.Description != "paused for maintenance" ||
		*res.PhysicalParams.FileProtectionTypeParams.Objects[0].FilePaths[0].IncludedPath != "/srv" {
		t.Fatalf("update does not carry the values sent: %+v", res)
	}
	if *res.LastModifiedTimestampUsecs <= *created.LastModifiedTimestampUsecs {
		t.Fatalf("lastModifiedTimestampUsecs did not move")
	}

	// Stale: the creation timestamp again.
	opts.IsPaused = core.BoolPtr(false)
	_, resp, err = svc.UpdateProtectionGroup(opts)
	if msg := wantError(t, resp, err, 412); !strings.Contains(msg, "lastModifiedTimestampUsecs") {
		t.Fatalf("stale message: %q", msg)
	}

	// Resume with the current timestamp.
	opts.LastModifiedTimestampUsecs = res.LastModifiedTimestampUsecs
	res, resp, err = svc.UpdateProtectionGroup(opts)
	wantStatus(t, resp, err, 200)
	if *res.IsPaused {
		t.Fatalf("resume: the group is still paused")
	}
	list, resp, err := svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenant), Ids: []string{*created.ID}, IsPaused: core.BoolPtr(false),
	})
	wantStatus(t, resp, err, 200)
	if len(list.ProtectionGroups) != 1 {
		t.Fatalf("the resumed group is not listed as not paused")
	}

	// Another tenant cannot update it.
	opts.XIBMTenantID = core.StringPtr(tenantB)
	opts.LastModifiedTimestampUsecs = nil
	_, resp, err = svc.UpdateProtectionGroup(opts)
	wantError(t, resp, err, 404)
}

func TestDeleteProtectionGroup(t *testing.T) {
	p := createPolicy(t, tenantA, uniqueName(t, "policy"))
	g := createSQLGroup(t, tenantA, uniqueName(t, "delete"), *p.ID)
	resp, err := svc.DeleteProtectionGroup(&backuprecoveryv1.DeleteProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: g.ID,
	})
	wantError(t, resp, err, 404)
	resp, err = svc.DeleteProtectionGroup(&backuprecoveryv1.DeleteProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: g.ID, DeleteSnapshots: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 204)
	_, resp, err = svc.GetProtectionGroupByID(&backuprecoveryv1.GetProtectionGroupByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: g.ID,
	})
	wantError(t, resp, err, 404)
	live, resp, err := svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenantA), Ids: []string{*g.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(live.ProtectionGroups) != 0 {
		t.Fatalf("a deleted group is in the default list")
	}
	deleted, resp, err := svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(tenantA), Ids: []string{*g.ID}, IsDeleted: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if len(deleted.ProtectionGroups) != 1 || !*deleted.ProtectionGroups[0].IsDeleted {
		t.Fatalf("isDeleted=true does not list the deleted group: %+v", deleted.ProtectionGroups)
	}
	resp, err = svc.DeleteProtectionGroup(&backuprecoveryv1.DeleteProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: g.ID,
	})
	wantError(t, resp, err, 404)
}
