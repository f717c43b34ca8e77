// sources_test.go: source registrations and object search through the official client:
// RegisterProtectionSource, GetSourceRegistrations, GetProtectionSourceRegistration,
// UpdateProtectionSourceRegistration, PatchProtectionSourceRegistration,
// DeleteProtectionSourceRegistration, RefreshProtectionSourceByID and SearchObjects answer with the
// status codes the SDK expects, and what it decodes carries the values sent.
//
// A host can be registered once per tenant and environment (409 after that), so every test that
// registers this machine does it in a tenant of its own (sourceTenant).
package conformance

import (
	"strconv"
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

// sourceTenant: a tenant no other test uses, for registering this machine.
func sourceTenant(t *testing.T) string { return uniqueName(t, "src-tenant") }

// registerLocal registers this machine (localhost) in tenant and returns what the SDK decoded.
func registerLocal(t *testing.T, tenant, name string) *backuprecoveryv1.SourceRegistrationResponseParams {
	t.Helper()
	res, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Environment:  core.StringPtr("kPhysical"),
		Name:         core.StringPtr(name),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{
			Endpoint:     core.StringPtr("localhost"),
			HostType:     core.StringPtr("kLinux"),
			PhysicalType: core.StringPtr("kHost"),
		},
		AdvancedConfigs: []backuprecoveryv1.KeyValuePair{{Key: core.StringPtr("k1"), Value: core.StringPtr("v1")}},
	})
	wantStatus(t, resp, err, 201)
	return res
}

func volumeID(r *backuprecoveryv1.SourceRegistrationResponseParams, name string) int64 {
	if r.SourceInfo == nil {
		return 0
	}
	for _, c := range r.SourceInfo.ChildObjects {
		if c.Name != nil && *c.Name == name && c.ID != nil {
			return *c.ID
		}
	}
	return 0
}

func TestRegisterProtectionSourceLocalHost(t *testing.T) {
	tenant := sourceTenant(t)
	name := uniqueName(t, "host")
	r := registerLocal(t, tenant, name)
	if r.ID == nil || *r.ID <= 0 || r.SourceID == nil || *r.SourceID != *r.ID {
		t.Fatalf("want a positive id equal to sourceId, got id=%v sourceId=%v", r.ID, r.SourceID)
	}
	if r.Name == nil || *r.Name != name || r.Environment == nil || *r.Environment != "kPhysical" {
		t.Fatalf("name/environment not echoed: %+v", r)
	}
	if r.PhysicalParams == nil || *r.PhysicalParams.Endpoint != "localhost" || *r.PhysicalParams.HostType != "kLinux" ||
		*r.PhysicalParams.PhysicalType != "kHost" {
		t.Fatalf("physicalParams not echoed: %+v", r.PhysicalParams)
	}
	if len(r.AdvancedConfigs) != 1 || *r.AdvancedConfigs[0].Key != "k1" || *r.AdvancedConfigs[0].Value != "v1" {
		t.Fatalf("advancedConfigs not echoed: %+v", r.AdvancedConfigs)
	}
	if r.AuthenticationStatus == nil || *r.AuthenticationStatus != "Finished" {
		t.Fatalf("want authenticationStatus Finished for this machine, got %v", r.AuthenticationStatus)
	}
	if r.RegistrationTimeMsecs == nil || *r.RegistrationTimeMsecs <= 0 || r.LastRefreshedTimeMsecs == nil {
		t.Fatalf("registration/refresh times missing")
	}
	if r.SourceInfo == nil || *r.SourceInfo.ID != *r.ID || *r.SourceInfo.ObjectType != "kHost" ||
		*r.SourceInfo.Environment != "kPhysical" || *r.SourceInfo.OsType != "kLinux" {
		t.Fatalf("sourceInfo is not this host: %+v", r.SourceInfo)
	}
	if volumeID(r, "/") == 0 {
		t.Fatalf("the root filesystem is not among the discovered volumes: %+v", r.SourceInfo.ChildObjects)
	}
	for _, c := range r.SourceInfo.ChildObjects {
		if *c.ObjectType != "kVolume" || *c.SourceID != *r.ID {
			t.Fatalf("child object %+v is not a volume of the source", c)
		}
	}

	// The same machine under another name is the same host: 409 with the server's message.
	_, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID:   core.StringPtr(tenant),
		Environment:    core.StringPtr("kPhysical"),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{Endpoint: core.StringPtr("127.0.0.1")},
	})
	if msg := wantError(t, resp, err, 409); !strings.Contains(msg, "already registered") {
		t.Fatalf("409 message %q does not say why", msg)
	}
}

func TestRegisterProtectionSourceRemoteHostIsUnreachable(t *testing.T) {
	r, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Environment:  core.StringPtr("kPhysical"),
		Name:         core.StringPtr(uniqueName(t, "remote")),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{
			Endpoint:      core.StringPtr(uniqueName(t, "far") + ".example.com"),
			HostType:      core.StringPtr("kWindows"),
			ForceRegister: core.BoolPtr(true),
		},
	})
	wantStatus(t, resp, err, 201)
	if *r.AuthenticationStatus != "Pending" || r.SourceInfo != nil || r.SourceID != nil {
		t.Fatalf("a remote host must be Pending without objects: %+v", r)
	}
	raw := adminCall(t, "GET", "/data-protect/sources/registrations/"+strconv.FormatInt(*r.ID, 10), tenantA, nil)
	m, _ := raw.JSON.(map[string]any)
	if msg, _ := m["refreshErrorMessage"].(string); !strings.Contains(msg, "no agent reachable at") {
		t.Fatalf("want refreshErrorMessage naming the unreachable agent, got %q", raw.Body)
	}
	resp, err = svc.DeleteProtectionSourceRegistration(&backuprecoveryv1.DeleteProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: r.ID})
	wantStatus(t, resp, err, 204)
}

func TestGetSourceRegistrationsAndGetByID(t *testing.T) {
	tenant := sourceTenant(t)
	r := registerLocal(t, tenant, uniqueName(t, "host"))
	list, resp, err := svc.GetSourceRegistrations(&backuprecoveryv1.GetSourceRegistrationsOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Ids:          []int64{*r.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(list.Registrations) != 1 || *list.Registrations[0].ID != *r.ID || *list.Registrations[0].Name != *r.Name {
		t.Fatalf("want exactly registration %d, got %+v", *r.ID, list.Registrations)
	}
	all, resp, err := svc.GetSourceRegistrations(&backuprecoveryv1.GetSourceRegistrationsOptions{
		XIBMTenantID: core.StringPtr(tenant), IncludeExternalMetadata: core.BoolPtr(true), UseCachedData: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if len(all.Registrations) != 1 {
		t.Fatalf("tenant %s has one registration, listed %d", tenant, len(all.Registrations))
	}
	got, resp, err := svc.GetProtectionSourceRegistration(&backuprecoveryv1.GetProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID,
	})
	wantStatus(t, resp, err, 200)
	if *got.ID != *r.ID || *got.Name != *r.Name || volumeID(got, "/") != volumeID(r, "/") {
		t.Fatalf("GET by id differs from the registration: %+v", got)
	}
	// Another tenant sees nothing of it.
	_, resp, err = svc.GetProtectionSourceRegistration(&backuprecoveryv1.GetProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: r.ID,
	})
	if msg := wantError(t, resp, err, 404); msg == "" {
		t.Fatalf("404 without a message")
	}
	other, resp, err := svc.GetSourceRegistrations(&backuprecoveryv1.GetSourceRegistrationsOptions{
		XIBMTenantID: core.StringPtr(tenantB), Ids: []int64{*r.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(other.Registrations) != 0 {
		t.Fatalf("tenant B listed tenant %s's registration", tenant)
	}
}

func TestUpdateAndPatchProtectionSourceRegistration(t *testing.T) {
	tenant := sourceTenant(t)
	r := registerLocal(t, tenant, uniqueName(t, "host"))
	newName := uniqueName(t, "renamed")
	up, resp, err := svc.UpdateProtectionSourceRegistration(&backuprecoveryv1.UpdateProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant),
		ID:           r.ID,
		Environment:  core.StringPtr("kPhysical"),
		Name:         core.StringPtr(newName),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{
			Endpoint: core.StringPtr("127.0.0.1"), HostType: core.StringPtr("kLinux"),
		},
		AdvancedConfigs: []backuprecoveryv1.KeyValuePair{{Key: core.StringPtr("k2"), Value: core.StringPtr("v2")}},
	})
	wantStatus(t, resp, err, 200)
	if *up.ID != *r.ID || *up.Name != newName || *up.PhysicalParams.Endpoint != "127.0.0.1" ||
		len(up.AdvancedConfigs) != 1 || *up.AdvancedConfigs[0].Key != "k2" {
		t.Fatalf("update not applied: %+v", up)
	}
	if volumeID(up, "/") != volumeID(r, "/") {
		t.Fatalf("object ids changed on update: %d -> %d", volumeID(r, "/"), volumeID(up, "/"))
	}
	// The environment of a registration cannot change.
	_, resp, err = svc.UpdateProtectionSourceRegistration(&backuprecoveryv1.UpdateProtectionSourceRegistrationOptions{
		XIBMTenantID:   core.StringPtr(tenant),
		ID:             r.ID,
		Environment:    core.StringPtr("kSQL"),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{Endpoint: core.StringPtr("localhost")},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "environment") {
		t.Fatalf("400 message %q does not name the field", msg)
	}
	p, resp, err := svc.PatchProtectionSourceRegistration(&backuprecoveryv1.PatchProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID, Environment: core.StringPtr("kPhysical"),
	})
	wantStatus(t, resp, err, 200)
	if *p.ID != *r.ID || *p.Name != newName {
		t.Fatalf("patch answer is not the registration: %+v", p)
	}
	_, resp, err = svc.PatchProtectionSourceRegistration(&backuprecoveryv1.PatchProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID, Environment: core.StringPtr("kSQL"),
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "environment") {
		t.Fatalf("400 message %q does not name the field", msg)
	}
	_, resp, err = svc.PatchProtectionSourceRegistration(&backuprecoveryv1.PatchProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: core.Int64Ptr(1 << 50), Environment: core.StringPtr("kPhysical"),
	})
	wantError(t, resp, err, 404)
}

func TestRefreshAndDeleteProtectionSource(t *testing.T) {
	tenant := sourceTenant(t)
	r := registerLocal(t, tenant, uniqueName(t, "host"))
	resp, err := svc.RefreshProtectionSourceByID(&backuprecoveryv1.RefreshProtectionSourceByIdOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID,
	})
	wantStatus(t, resp, err, 204)
	got, resp, err := svc.GetProtectionSourceRegistration(&backuprecoveryv1.GetProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID,
	})
	wantStatus(t, resp, err, 200)
	if volumeID(got, "/") != volumeID(r, "/") || *got.LastRefreshedTimeMsecs < *r.LastRefreshedTimeMsecs {
		t.Fatalf("refresh changed object ids or went back in time: %+v", got)
	}
	resp, err = svc.RefreshProtectionSourceByID(&backuprecoveryv1.RefreshProtectionSourceByIdOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: r.ID,
	})
	wantError(t, resp, err, 404)
	resp, err = svc.DeleteProtectionSourceRegistration(&backuprecoveryv1.DeleteProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: r.ID,
	})
	wantError(t, resp, err, 404)
	resp, err = svc.DeleteProtectionSourceRegistration(&backuprecoveryv1.DeleteProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID,
	})
	wantStatus(t, resp, err, 204)
	_, resp, err = svc.GetProtectionSourceRegistration(&backuprecoveryv1.GetProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID,
	})
	wantError(t, resp, err, 404)
	resp, err = svc.DeleteProtectionSourceRegistration(&backuprecoveryv1.DeleteProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: r.ID,
	})
	wantError(t, resp, err, 404)
}

func TestRegisterProtectionSourceBadInput(t *testing.T) {
	cases := []struct {
		env, endpoint, hostType, field string
	}{
		{"kVMware", "h1.example", "", "environment"},
		{"kPhysical", "not a host", "", "physicalParams.endpoint"},
		{"kPhysical", "h1.example", "kAix", "physicalParams.hostType"},
		{"kPhysical", "localhost", "kWindows", "physicalParams.hostType"},
	}
	tenant := sourceTenant(t)
	for _, c := range cases {
		pp := &backuprecoveryv1.PhysicalSourceRegistrationParams{Endpoint: core.StringPtr(c.endpoint)}
		if c.hostType != "" {
			pp.HostType = core.StringPtr(c.hostType)
		}
		_, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
			XIBMTenantID: core.StringPtr(tenant), Environment: core.StringPtr(c.env), PhysicalParams: pp,
		})
		if msg := wantError(t, resp, err, 400); !strings.Contains(msg, c.field) {
			t.Fatalf("%+v: 400 message %q does not name %s", c, msg, c.field)
		}
	}
	list, resp, err := svc.GetSourceRegistrations(&backuprecoveryv1.GetSourceRegistrationsOptions{
		XIBMTenantID: core.StringPtr(tenant),
	})
	wantStatus(t, resp, err, 200)
	if len(list.Registrations) != 0 {
		t.Fatalf("refused registrations were stored: %+v", list.Registrations)
	}
}

func TestSearchObjects(t *testing.T) {
	tenant := sourceTenant(t)
	r := registerLocal(t, tenant, uniqueName(t, "host"))
	vol := volumeID(r, "/")
	res, resp, err := svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
		XIBMTenantID: core.StringPtr(tenant),
		SearchString: core.StringPtr("*"),
		Environments: []string{"kPhysical"},
		SourceIds:    []int64{*r.ID},
		IsProtected:  core.BoolPtr(false),
		OsTypes:      []string{"kLinux"},
	})
	wantStatus(t, resp, err, 200)
	total := len(res.Objects)
	if total < 2 || *res.Objects[0].ID != *r.ID || *res.Objects[0].ObjectType != "kHost" {
		t.Fatalf("want the host first and its volumes, got %d objects", total)
	}
	if res.Count == nil || *res.Count != int64(total) {
		t.Fatalf("count %v does not match %d objects", res.Count, total)
	}
	found := false
	for _, o := range res.Objects {
		if *o.ID == vol {
			found = true
			if *o.Name != "/" || *o.SourceID != *r.ID || *o.Environment != "kPhysical" || o.SourceInfo == nil ||
				*o.SourceInfo.ID != *r.ID || len(o.ObjectProtectionInfos) != 1 ||
				*o.ObjectProtectionInfos[0].ObjectID != vol {
				t.Fatalf("volume object decoded wrong: %+v", o)
			}
		}
	}
	if !found {
		t.Fatalf("volume %d not found", vol)
	}
	// Exact name, prefix, and object ids.
	one, resp, err := svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
		XIBMTenantID: core.StringPtr(tenant), SearchString: core.StringPtr("/"),
	})
	wantStatus(t, resp, err, 200)
	if len(one.Objects) != 1 || *one.Objects[0].ID != vol {
		t.Fatalf("searchString '/' should find only the root volume, got %d", len(one.Objects))
	}
	byID, resp, err := svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
		XIBMTenantID: core.StringPtr(tenant), ObjectIds: []int64{vol},
	})
	wantStatus(t, resp, err, 200)
	if len(byID.Objects) != 1 || *byID.Objects[0].ID != vol {
		t.Fatalf("objectIds filter: got %d objects", len(byID.Objects))
	}
	// Pagination: one per page through the cookie.
	seen := 0
	var cookie *string
	for page := 0; page < 100; page++ {
		pg, resp, err := svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
			XIBMTenantID: core.StringPtr(tenant), Count: core.Int64Ptr(1), PaginationCookie: cookie,
		})
		wantStatus(t, resp, err, 200)
		if len(pg.Objects) != 1 || *pg.Objects[0].ID != *res.Objects[seen].ID {
			t.Fatalf("page %d: want object %d, got %+v", page, *res.Objects[seen].ID, pg.Objects)
		}
		seen++
		if pg.PaginationCookie == nil {
			break
		}
		cookie = pg.PaginationCookie
	}
	if seen != total {
		t.Fatalf("pages showed %d objects of %d", seen, total)
	}
	// Another tenant finds nothing; an unknown environment is a 400 naming the parameter.
	none, resp, err := svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
		XIBMTenantID: core.StringPtr(tenantB), ObjectIds: []int64{*r.ID, vol},
	})
	wantStatus(t, resp, err, 200)
	if len(none.Objects) != 0 {
		t.Fatalf("tenant B found tenant %s's objects", tenant)
	}
	_, resp, err = svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
		XIBMTenantID: core.StringPtr(tenant), Environments: []string{"kVMware"},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "environments") {
		t.Fatalf("400 message %q does not name the parameter", msg)
	}
}
