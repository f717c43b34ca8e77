// search_test.go: indexed file search through the official client: SearchIndexedObjects finds the files
// of a backed-up directory once the indexer has done its snapshot (GetObjectSnapshots and
// SearchProtectedObjects then show indexingStatus Done), and what the SDK decodes (File: name, path,
// type, protection group, policy, sourceInfo; count, paginationCookie) is what was backed up. Only
// objectType Files is searchable (400 otherwise); another tenant finds nothing.
package conformance

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

// waitIndexed polls GetObjectSnapshots until the fixture's snapshot is indexed.
func waitIndexed(t *testing.T, f *runFixture) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res, resp, err := svc.GetObjectSnapshots(&backuprecoveryv1.GetObjectSnapshotsOptions{
			XIBMTenantID: core.StringPtr(f.tenant), ID: core.Int64Ptr(f.host),
		})
		wantStatus(t, resp, err, 200)
		for _, s := range res.Snapshots {
			if *s.ID == f.snapID && s.IndexingStatus != nil && *s.IndexingStatus == "Done" {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("snapshot %s was not indexed within 60 s", f.snapID)
}

func searchFiles(t *testing.T, tenant, text string, count int64, cookie *string) *backuprecoveryv1.SearchIndexedObjectsResponse {
	t.Helper()
	opts := &backuprecoveryv1.SearchIndexedObjectsOptions{
		XIBMTenantID:     core.StringPtr(tenant),
		ObjectType:       core.StringPtr("Files"),
		FileParams:       &backuprecoveryv1.SearchFileRequestParams{SearchString: core.StringPtr(text)},
		PaginationCookie: cookie,
	}
	if count > 0 {
		opts.Count = core.Int64Ptr(count)
	}
	res, resp, err := svc.SearchIndexedObjects(opts)
	wantStatus(t, resp, err, 200)
	return res
}

func TestSearchIndexedObjects(t *testing.T) {
	f := newRunFixture(t)
	waitIndexed(t, f)
	res := searchFiles(t, f.tenant, "f03.b", 0, nil)
	if *res.ObjectType != "Files" || len(res.Files) != 1 || *res.Count != 1 || res.PaginationCookie != nil {
		t.Fatalf("search f03.b: %+v", res)
	}
	file := res.Files[0]
	if *file.Name != "f03.bin" || *file.Path != filepath.Join(f.dir, "sub", "f03.bin") || *file.Type != "File" {
		t.Errorf("file: name %s path %s type %s", *file.Name, *file.Path, *file.Type)
	}
	if *file.ProtectionGroupID != f.group || file.ProtectionGroupName == nil || file.PolicyID == nil || file.PolicyName == nil {
		t.Errorf("file: group %v %v policy %v %v", file.ProtectionGroupID, file.ProtectionGroupName, file.PolicyID, file.PolicyName)
	}
	if file.SourceInfo == nil || *file.SourceInfo.ID != f.host || *file.SourceInfo.Environment != "kPhysical" {
		t.Errorf("file: sourceInfo %+v", file.SourceInfo)
	}
	// Directories, with a type filter.
	opts := &backuprecoveryv1.SearchIndexedObjectsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ObjectType: core.StringPtr("Files"),
		FileParams:         &backuprecoveryv1.SearchFileRequestParams{SearchString: core.StringPtr("sub"), Types: []string{"Directory"}, ObjectIds: []int64{f.host}},
		ProtectionGroupIds: []string{f.group},
	}
	dirs, resp, err := svc.SearchIndexedObjects(opts)
	wantStatus(t, resp, err, 200)
	if len(dirs.Files) != 1 || *dirs.Files[0].Type != "Directory" || *dirs.Files[0].Path != filepath.Join(f.dir, "sub") {
		t.Errorf("directories named sub: %+v", dirs.Files)
	}
	// Pages of 3 over the ten files: every one once.
	seen := map[string]bool{}
	var cookie *string
	for page := 0; page < 10; page++ {
		r := searchFiles(t, f.tenant, ".bin", 3, cookie)
		if len(r.Files) > 3 {
			t.Fatalf("page of %d files, asked 3", len(r.Files))
		}
		for _, x := range r.Files {
			if seen[*x.Path] {
				t.Errorf("%s on two pages", *x.Path)
			}
			seen[*x.Path] = true
		}
		if r.PaginationCookie == nil {
			break
		}
		cookie = r.PaginationCookie
	}
	if len(seen) != int(f.files) {
		t.Errorf("pages gave %d files, want %d", len(seen), f.files)
	}
	// Other object types (Coffer protects none: 200 with no results), another tenant.
	emails, resp, err := svc.SearchIndexedObjects(&backuprecoveryv1.SearchIndexedObjectsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ObjectType: core.StringPtr("Emails"),
	})
	if err != nil || statusOf(resp) != 200 || emails == nil || len(emails.Files) != 0 || len(emails.Emails) != 0 {
		t.Errorf("Emails: status %d, error %v, want 200 with no results", statusOf(resp), err)
	}
	if r := searchFiles(t, tenantB, "f03", 0, nil); len(r.Files) != 0 {
		t.Errorf("tenant B finds %d of tenant A's files", len(r.Files))
	}
}

func TestSearchProtectedObjectsIndexingStatus(t *testing.T) {
	f := newRunFixture(t)
	waitIndexed(t, f)
	res, resp, err := svc.SearchProtectedObjects(&backuprecoveryv1.SearchProtectedObjectsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ProtectionGroupIds: []string{f.group},
	})
	wantStatus(t, resp, err, 200)
	found := false
	for _, o := range res.Objects {
		if *o.ID != f.host {
			continue
		}
		for _, s := range o.LatestSnapshotsInfo {
			if s.LocalSnapshotInfo != nil && *s.LocalSnapshotInfo.SnapshotID == f.snapID {
				found = true
				if s.IndexingStatus == nil || *s.IndexingStatus != "Done" {
					t.Errorf("indexingStatus %v, want Done", s.IndexingStatus)
				}
			}
		}
	}
	if !found {
		t.Errorf("SearchProtectedObjects does not list snapshot %s of object %d", f.snapID, f.host)
	}
}
