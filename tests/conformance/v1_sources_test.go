// v1_sources_test.go: the v1 protection source tree through the official client:
// ListProtectionSources (the SDK asks for /irisservices/api/v1/public/protectionSources at the
// server's root, stripping /v2 from its service URL) decodes into []ProtectionSourceNodes with the
// registered hosts, their volumes as child nodes, registration info and protection summaries; its
// filters and errors; tenants see only their own tree. ListProtectionSourcesRegistrationInfo is not
// in SDK v1.0.3, so it is called raw at the same root path and decoded into structs typed as the wire
// contract's GetRegistrationInfoResponse (a wrong type fails the decode).
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

// v1Stats: GetRegistrationInfoResponseStats / ProtectionSourceTreeInfoStats / ProtectionSummaryByEnv.
type v1Stats struct {
	Environment      *string `json:"environment"`
	ProtectedCount   *int64  `json:"protectedCount"`
	ProtectedSize    *int64  `json:"protectedSize"`
	UnprotectedCount *int64  `json:"unprotectedCount"`
	UnprotectedSize  *int64  `json:"unprotectedSize"`
}

// v1RegistrationInfo: GetRegistrationInfoResponse with the fields Coffer fills, typed per the contract.
type v1RegistrationInfo struct {
	RootNodes []struct {
		RootNode         *backuprecoveryv1.ProtectionSourceNode `json:"rootNode"`
		LogicalSizeBytes *int64                                 `json:"logicalSizeBytes"`
		Stats            *v1Stats                               `json:"stats"`
		StatsByEnv       []v1Stats                              `json:"statsByEnv"`
		RegistrationInfo *struct {
			AccessInfo *struct {
				ConnectionID *int64  `json:"connectionId"`
				Endpoint     *string `json:"endpoint"`
				Environment  *string `json:"environment"`
				ID           *int64  `json:"id"`
			} `json:"accessInfo"`
			AuthenticationErrorMessage *string  `json:"authenticationErrorMessage"`
			AuthenticationStatus       *string  `json:"authenticationStatus"`
			Environments               []string `json:"environments"`
			RefreshErrorMessage        *string  `json:"refreshErrorMessage"`
			RefreshTimeUsecs           *int64   `json:"refreshTimeUsecs"`
			RegistrationTimeUsecs      *int64   `json:"registrationTimeUsecs"`
			PhysicalParams             *struct {
				Applications []string `json:"applications"`
			} `json:"physicalParams"`
		} `json:"registrationInfo"`
		EntityPermissionInfo *struct {
			EntityID            *int64  `json:"entityId"`
			IsInferred          *bool   `json:"isInferred"`
			IsRegisteredBySp    *bool   `json:"isRegisteredBySp"`
			RegisteringTenantID *string `json:"registeringTenantId"`
			Tenant              *struct {
				TenantID *string `json:"tenantId"`
				Name     *string `json:"name"`
			} `json:"tenant"`
		} `json:"entityPermissionInfo"`
	} `json:"rootNodes"`
	Stats      *v1Stats  `json:"stats"`
	StatsByEnv []v1Stats `json:"statsByEnv"`
}

// rootCall: one request to path at the server's root (not under /v2) with the admin key; tenant ""
// sends no X-IBM-Tenant-Id; headers are added as given.
func rootCall(t *testing.T, method, path, tenant string, headers map[string]string, body any) *rawResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		enc, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, baseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tenant != "" {
		req.Header.Set("X-IBM-Tenant-Id", tenant)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &rawResp{Status: res.StatusCode, Header: res.Header}
	if out.Body, err = io.ReadAll(res.Body); err != nil {
		t.Fatal(err)
	}
	var j any
	if json.Unmarshal(out.Body, &j) == nil {
		out.JSON = j
	}
	return out
}

// registrationInfo: GET .../protectionSources/registrationInfo?query, decoded as the contract says.
func registrationInfo(t *testing.T, tenant, query string) *v1RegistrationInfo {
	t.Helper()
	r := rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources/registrationInfo"+query, tenant, nil, nil)
	if r.Status != 200 {
		t.Fatalf("registrationInfo%s: %d %s", query, r.Status, r.Body)
	}
	var out v1RegistrationInfo
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("registrationInfo does not decode as GetRegistrationInfoResponse: %v\n%s", err, r.Body)
	}
	return &out
}

func listSources(t *testing.T, opts *backuprecoveryv1.ListProtectionSourcesOptions) []backuprecoveryv1.ProtectionSourceNodes {
	t.Helper()
	res, resp, err := svc.ListProtectionSources(opts)
	wantStatus(t, resp, err, 200)
	return res
}

func nodeIDs(nodes []backuprecoveryv1.ProtectionSourceNodes) string {
	var s []string
	for _, n := range nodes {
		if n.ProtectionSource == nil || n.ProtectionSource.ID == nil {
			s = append(s, "?")
			continue
		}
		s = append(s, fmt.Sprint(*n.ProtectionSource.ID))
	}
	return strings.Join(s, ",")
}

func TestListProtectionSources(t *testing.T) {
	tenant := sourceTenant(t)
	name := uniqueName(t, "host")
	reg := registerLocal(t, tenant, name)
	host := *reg.ID
	remote, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID:   core.StringPtr(tenant),
		Environment:    core.StringPtr("kPhysical"),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{Endpoint: core.StringPtr("10.66.0.5")},
	})
	wantStatus(t, resp, err, 201)

	nodes := listSources(t, &backuprecoveryv1.ListProtectionSourcesOptions{XIBMTenantID: core.StringPtr(tenant)})
	if got, want := nodeIDs(nodes), fmt.Sprintf("%d,%d", host, *remote.ID); got != want {
		t.Fatalf("roots %s, want %s", got, want)
	}
	h := nodes[0]
	ps := h.ProtectionSource
	if *ps.Name != "localhost" || ps.CustomName == nil || *ps.CustomName != name || *ps.Environment != "kPhysical" ||
		ps.ParentID != nil {
		t.Fatalf("host node: %+v", ps)
	}
	pp := ps.PhysicalProtectionSource
	if pp == nil || pp.ID == nil || *pp.ID.ID != host || *pp.ID.ClusterID <= 0 || *pp.ID.ClusterIncarnationID <= 0 ||
		*pp.Type != "kHost" || *pp.HostType != "kLinux" {
		t.Fatalf("physicalProtectionSource: %+v", pp)
	}
	if len(pp.Agents) != 1 || *pp.Agents[0].ID != host || *pp.Agents[0].Status != "kHealthy" {
		t.Fatalf("agents: %+v", pp.Agents)
	}
	if len(pp.Volumes) != len(reg.SourceInfo.ChildObjects) || len(h.Nodes) != len(reg.SourceInfo.ChildObjects) {
		t.Fatalf("%d volumes, %d nodes, want %d", len(pp.Volumes), len(h.Nodes), len(reg.SourceInfo.ChildObjects))
	}
	ri := h.RegistrationInfo
	if ri == nil || *ri.AuthenticationStatus != "kFinished" || ri.Environments[0] != "kPhysical" ||
		*ri.AccessInfo.Endpoint != "localhost" || *ri.RegistrationTimeUsecs <= 0 || ri.RefreshTimeUsecs == nil {
		t.Fatalf("registrationInfo: %+v", ri)
	}
	if h.LogicalSize == nil || len(h.UnprotectedSourcesSummary) != 1 ||
		*h.UnprotectedSourcesSummary[0].LeavesCount != int64(len(h.Nodes)) ||
		*h.ProtectedSourcesSummary[0].LeavesCount != 0 {
		t.Fatalf("summaries: %+v %+v", h.ProtectedSourcesSummary, h.UnprotectedSourcesSummary)
	}
	root := volumeID(reg, "/")
	seen := false
	for _, n := range h.Nodes {
		v := n.ProtectionSource
		if *v.ParentID != host || *v.PhysicalProtectionSource.ID.ID != *v.ID || len(v.PhysicalProtectionSource.Volumes) != 1 ||
			v.PhysicalProtectionSource.Volumes[0].MountPoints[0] != *v.Name {
			t.Fatalf("volume node: %+v", v)
		}
		if *v.ID == root {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("the / volume (%d) is not a child node", root)
	}
	rem := nodes[1]
	if *rem.ProtectionSource.Name != "10.66.0.5" || *rem.RegistrationInfo.AuthenticationStatus != "kPending" ||
		rem.RegistrationInfo.RefreshErrorMessage == nil || len(rem.Nodes) != 0 {
		t.Fatalf("remote node: %+v %+v", rem.ProtectionSource, rem.RegistrationInfo)
	}

	// The same tree under /v2, as the contract writes the path.
	v2 := adminCall(t, "GET", "/irisservices/api/v1/public/protectionSources", tenant, nil)
	direct := rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources", tenant, nil, nil)
	if v2.Status != 200 || !bytes.Equal(v2.Body, direct.Body) {
		t.Fatalf("/v2 alias: %d %s\nroot: %s", v2.Status, v2.Body, direct.Body)
	}
}

func TestListProtectionSourcesFilters(t *testing.T) {
	tenant := sourceTenant(t)
	reg := registerLocal(t, tenant, uniqueName(t, "host"))
	host, vol := *reg.ID, volumeID(reg, "/")
	opts := func() *backuprecoveryv1.ListProtectionSourcesOptions {
		return &backuprecoveryv1.ListProtectionSourcesOptions{XIBMTenantID: core.StringPtr(tenant)}
	}
	o := opts()
	o.Environments = []string{"kSQL", "kVMware"}
	if n := listSources(t, o); len(n) != 0 {
		t.Fatalf("environments kSQL,kVMware: %s", nodeIDs(n))
	}
	o = opts()
	o.Environments = []string{"kPhysical"}
	if n := listSources(t, o); nodeIDs(n) != fmt.Sprint(host) {
		t.Fatalf("environments kPhysical: %s", nodeIDs(n))
	}
	o = opts()
	o.ID = core.Int64Ptr(vol)
	if n := listSources(t, o); nodeIDs(n) != fmt.Sprint(vol) || *n[0].ProtectionSource.ParentID != host {
		t.Fatalf("id=%d: %s", vol, nodeIDs(n))
	}
	o = opts()
	o.NumLevels = core.Float64Ptr(1)
	if n := listSources(t, o); len(n) != 1 || len(n[0].Nodes) != 0 {
		t.Fatalf("numLevels=1: %+v", n)
	}
	o = opts()
	o.ExcludeTypes = []string{"kVirtualMachine"}
	o.IncludeEntityPermissionInfo = core.BoolPtr(true)
	o.IncludeObjectProtectionInfo = core.BoolPtr(true)
	o.PruneNonCriticalInfo = core.BoolPtr(true)
	o.PruneAggregationInfo = core.BoolPtr(true)
	o.UseCachedData = core.BoolPtr(true)
	o.RequestInitiatorType = core.StringPtr("UIUser")
	n := listSources(t, o)
	if len(n) != 1 || n[0].EntityPermissionInfo == nil || *n[0].EntityPermissionInfo.EntityID != host ||
		*n[0].EntityPermissionInfo.RegisteringTenantID != tenant || n[0].ObjectProtectionInfo == nil ||
		*n[0].ObjectProtectionInfo.HasActiveObjectProtectionSpec != 0 ||
		n[0].ProtectionSource.PhysicalProtectionSource.Volumes != nil || n[0].ProtectedSourcesSummary != nil {
		t.Fatalf("permission/protection info, pruning: %+v", n)
	}
	o = opts()
	o.NodeID = core.Int64Ptr(host)
	o.PageSize = core.Int64Ptr(1)
	n = listSources(t, o)
	if len(n) != 1 || len(n[0].Nodes) != 1 {
		t.Fatalf("nodeId=%d pageSize=1: %+v", host, n)
	}
	if len(reg.SourceInfo.ChildObjects) > 1 {
		p := n[0].EntityPaginationParameters
		if p == nil || *p.NodeID != host || *p.AfterCursorEntityID != *n[0].Nodes[0].ProtectionSource.ID {
			t.Fatalf("entityPaginationParameters: %+v", p)
		}
	}

	// Bad parameters are 400 naming them, an unknown node 404.
	o = opts()
	o.Environments = []string{"kNoSuchEnv"}
	_, resp, err := svc.ListProtectionSources(o)
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "environments") {
		t.Fatalf("message %q does not name environments", msg)
	}
	o = opts()
	o.IncludeSourceCredentials = core.BoolPtr(true)
	_, resp, err = svc.ListProtectionSources(o)
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "encryptionKey") {
		t.Fatalf("message %q does not name encryptionKey", msg)
	}
	o = opts()
	o.RequestInitiatorType = core.StringPtr("Robot")
	_, resp, err = svc.ListProtectionSources(o)
	wantError(t, resp, err, 400)
	o = opts()
	o.ID = core.Int64Ptr(987654321)
	_, resp, err = svc.ListProtectionSources(o)
	if msg := wantError(t, resp, err, 404); !strings.Contains(msg, "987654321") {
		t.Fatalf("message %q does not name the id", msg)
	}
	if r := rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources?numLevels=0", tenant, nil, nil); r.Status != 400 ||
		!strings.Contains(r.Message(), "numLevels") {
		t.Fatalf("numLevels=0: %d %s", r.Status, r.Body)
	}
	if r := rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources", "", nil, nil); r.Status != 400 ||
		!strings.Contains(r.Message(), "X-IBM-Tenant-Id") {
		t.Fatalf("no tenant header: %d %s", r.Status, r.Body)
	}
}

func TestListProtectionSourcesShowsProtection(t *testing.T) {
	tenant, host, _, policy := groupEnv(t)
	reg, resp, err := svc.GetProtectionSourceRegistration(&backuprecoveryv1.GetProtectionSourceRegistrationOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: core.Int64Ptr(host),
	})
	wantStatus(t, resp, err, 200)
	nvols := int64(len(reg.SourceInfo.ChildObjects))
	g, resp, err := svc.CreateProtectionGroup(fileGroupOptions(tenant, uniqueName(t, "files"), policy, host, "/home"))
	wantStatus(t, resp, err, 201)
	o := &backuprecoveryv1.ListProtectionSourcesOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: core.Int64Ptr(host), IncludeObjectProtectionInfo: core.BoolPtr(true),
	}
	n := listSources(t, o)
	if len(n) != 1 || *n[0].ProtectedSourcesSummary[0].LeavesCount != nvols ||
		*n[0].UnprotectedSourcesSummary[0].LeavesCount != 0 || *n[0].ObjectProtectionInfo.HasActiveObjectProtectionSpec != 1 {
		t.Fatalf("protected host: %+v", n)
	}
	for _, c := range n[0].Nodes {
		if *c.ObjectProtectionInfo.AutoProtectParentID != host || !*c.ProtectionSource.PhysicalProtectionSource.Volumes[0].IsProtected {
			t.Fatalf("volume under a protected host: %+v", c)
		}
	}
	info := registrationInfo(t, tenant, "")
	if *info.Stats.ProtectedCount != nvols || *info.Stats.UnprotectedCount != 0 || *info.RootNodes[0].Stats.ProtectedCount != nvols {
		t.Fatalf("registrationInfo stats: %+v", info.Stats)
	}
	resp, err = svc.DeleteProtectionGroup(&backuprecoveryv1.DeleteProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenant), ID: g.ID,
	})
	wantStatus(t, resp, err, 204)
	if n = listSources(t, o); *n[0].ProtectedSourcesSummary[0].LeavesCount != 0 {
		t.Fatalf("after the group is deleted: %+v", n[0].ProtectedSourcesSummary)
	}
}

func TestListProtectionSourcesRegistrationInfo(t *testing.T) {
	tenant := sourceTenant(t)
	reg := registerLocal(t, tenant, uniqueName(t, "host"))
	sql, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Environment:  core.StringPtr("kSQL"),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{
			Endpoint: core.StringPtr("127.0.0.1"), Applications: []string{"kSQL"},
		},
	})
	wantStatus(t, resp, err, 201)
	info := registrationInfo(t, tenant, "?includeEntityPermissionInfo=true")
	if len(info.RootNodes) != 2 {
		t.Fatalf("%d root nodes, want 2", len(info.RootNodes))
	}
	h, s := info.RootNodes[0], info.RootNodes[1]
	if *h.RootNode.ID != *reg.ID || *h.RootNode.Name != "localhost" || *h.RootNode.PhysicalProtectionSource.Type != "kHost" ||
		*h.RegistrationInfo.AuthenticationStatus != "kFinished" || *h.RegistrationInfo.AccessInfo.Endpoint != "localhost" ||
		h.RegistrationInfo.Environments[0] != "kPhysical" || *h.RegistrationInfo.RegistrationTimeUsecs <= 0 ||
		h.LogicalSizeBytes == nil || *h.Stats.UnprotectedCount != int64(len(reg.SourceInfo.ChildObjects)) ||
		*h.StatsByEnv[0].Environment != "kPhysical" || *h.EntityPermissionInfo.Tenant.TenantID != tenant {
		t.Fatalf("host root node: %+v", h)
	}
	if *s.RootNode.ID != *sql.ID || *s.RootNode.Environment != "kSQL" || s.RegistrationInfo.PhysicalParams.Applications[0] != "kSQL" ||
		*s.Stats.UnprotectedCount != 1 {
		t.Fatalf("kSQL root node: %+v", s)
	}
	if *info.Stats.UnprotectedCount != *h.Stats.UnprotectedCount+*s.Stats.UnprotectedCount || len(info.StatsByEnv) != 2 {
		t.Fatalf("totals: %+v %+v", info.Stats, info.StatsByEnv)
	}
	if got := registrationInfo(t, tenant, "?environments=kSQL"); len(got.RootNodes) != 1 || *got.RootNodes[0].RootNode.ID != *sql.ID {
		t.Fatalf("environments=kSQL: %+v", got.RootNodes)
	}
	if got := registrationInfo(t, tenant, fmt.Sprintf("?ids=%d", *reg.ID)); len(got.RootNodes) != 1 {
		t.Fatalf("ids=%d: %d root nodes", *reg.ID, len(got.RootNodes))
	}
	if got := registrationInfo(t, tenant, "?tenantIds="+tenantB); len(got.RootNodes) != 0 || *got.Stats.UnprotectedCount != 0 {
		t.Fatalf("tenantIds of another tenant: %+v", got.RootNodes)
	}
	if got := registrationInfo(t, tenant, "?maintenanceStatus=UnderMaintenance"); len(got.RootNodes) != 0 {
		t.Fatalf("maintenanceStatus=UnderMaintenance: %+v", got.RootNodes)
	}
	if got := registrationInfo(t, tenantB, ""); len(got.RootNodes) != 0 {
		for _, r := range got.RootNodes {
			if *r.RootNode.ID == *reg.ID || *r.RootNode.ID == *sql.ID {
				t.Fatalf("tenant B sees tenant A's source %d", *r.RootNode.ID)
			}
		}
	}
	r := rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources/registrationInfo", tenant,
		map[string]string{"requestInitiatorType": "Robot"}, nil)
	if r.Status != 400 || !strings.Contains(r.Message(), "requestInitiatorType") {
		t.Fatalf("bad requestInitiatorType header: %d %s", r.Status, r.Body)
	}
	if r = rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources/registrationInfo?environments=kNope", tenant,
		nil, nil); r.Status != 400 || !strings.Contains(r.Message(), "environments") {
		t.Fatalf("bad environments: %d %s", r.Status, r.Body)
	}
	if r = rootCall(t, "GET", "/irisservices/api/v1/public/protectionSources/registrationInfo", "", nil, nil); r.Status != 400 {
		t.Fatalf("no tenant header: %d %s", r.Status, r.Body)
	}
}

func TestListProtectionSourcesTenantIsolation(t *testing.T) {
	tenant := sourceTenant(t)
	reg := registerLocal(t, tenant, uniqueName(t, "host"))
	other := sourceTenant(t)
	if n := listSources(t, &backuprecoveryv1.ListProtectionSourcesOptions{XIBMTenantID: core.StringPtr(other)}); len(n) != 0 {
		t.Fatalf("a fresh tenant sees %s", nodeIDs(n))
	}
	_, resp, err := svc.ListProtectionSources(&backuprecoveryv1.ListProtectionSourcesOptions{
		XIBMTenantID: core.StringPtr(other), ID: reg.ID,
	})
	wantError(t, resp, err, 404)
	_, resp, err = svc.ListProtectionSources(&backuprecoveryv1.ListProtectionSourcesOptions{
		XIBMTenantID: core.StringPtr(other), ID: core.Int64Ptr(volumeID(reg, "/")),
	})
	wantError(t, resp, err, 404)
}
