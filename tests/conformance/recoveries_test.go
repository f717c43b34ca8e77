// recoveries_test.go: recoveries and downloads through the official client: CreateRecovery (201),
// GetRecoveries, GetRecoveryByID, CancelRecoveryByID (absent from SDK v1.0.3: raw calls),
// CreateDownloadFilesAndFoldersRecovery (201), DownloadFilesFromRecovery and DownloadIndexedFile
// (the SDK only checks the status of these two; their bytes are checked with raw calls). A run backs
// up a directory of this machine first (runs_test.go's fixture); the restored files, the archive
// (a tar) and the streamed file equal what was backed up, and what the SDK decodes names the
// recovery, its snapshot, status and bytes. Other recovery actions are 400 naming recoveryAction, a
// path not in the snapshot 404, unknown ids 404, another tenant sees nothing.
package conformance

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

var recoveryIDPattern = regexp.MustCompile(`^\d+:\d+:\d+$`)

// recoverFilesOptions: a RecoverFiles recovery of paths from the fixture's snapshot to alt.
func recoverFilesOptions(f *runFixture, name, alt string, paths ...string) *backuprecoveryv1.CreateRecoveryOptions {
	var items []backuprecoveryv1.CommonRecoverFileAndFolderInfo
	for _, p := range paths {
		items = append(items, backuprecoveryv1.CommonRecoverFileAndFolderInfo{AbsolutePath: core.StringPtr(p)})
	}
	return &backuprecoveryv1.CreateRecoveryOptions{
		XIBMTenantID:        core.StringPtr(f.tenant),
		Name:                core.StringPtr(name),
		SnapshotEnvironment: core.StringPtr("kPhysical"),
		PhysicalParams: &backuprecoveryv1.RecoverPhysicalParams{
			Objects:        []backuprecoveryv1.CommonRecoverObjectSnapshotParams{{SnapshotID: core.StringPtr(f.snapID)}},
			RecoveryAction: core.StringPtr("RecoverFiles"),
			RecoverFileAndFolderParams: &backuprecoveryv1.RecoverPhysicalParamsRecoverFileAndFolderParams{
				FilesAndFolders:   items,
				TargetEnvironment: core.StringPtr("kPhysical"),
				PhysicalTargetParams: &backuprecoveryv1.RecoverPhysicalFileAndFolderParamsPhysicalTargetParams{
					RecoverTarget:             &backuprecoveryv1.PhysicalTargetParamsForRecoverFileAndFolderRecoverTarget{ID: core.Int64Ptr(f.host)},
					AlternateRestoreDirectory: core.StringPtr(alt),
					ContinueOnError:           core.BoolPtr(true),
				},
			},
		},
	}
}

// waitRecovery polls GetRecoveryByID until the recovery finished.
func waitRecovery(t *testing.T, tenant, id string) *backuprecoveryv1.Recovery {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		r, resp, err := svc.GetRecoveryByID(&backuprecoveryv1.GetRecoveryByIdOptions{
			XIBMTenantID: core.StringPtr(tenant), ID: core.StringPtr(id),
		})
		wantStatus(t, resp, err, 200)
		if s := *r.Status; s != "Accepted" && s != "Running" && s != "Canceling" {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("recovery %s did not finish within 120 s", id)
	return nil
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	da, err1 := os.ReadFile(a)
	db, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(da, db) {
		t.Errorf("%s and %s differ (%v %v)", a, b, err1, err2)
	}
}

func TestCreateRecovery(t *testing.T) {
	f := newRunFixture(t)
	alt := filepath.Join(t.TempDir(), "restored")
	name := uniqueName(t, "rec")
	rec, resp, err := svc.CreateRecovery(recoverFilesOptions(f, name, alt, filepath.Join(f.dir, "sub"), filepath.Join(f.dir, "f00.bin")))
	wantStatus(t, resp, err, 201)
	if rec.ID == nil || !recoveryIDPattern.MatchString(*rec.ID) || *rec.Name != name {
		t.Fatalf("created recovery: id %v name %v", rec.ID, rec.Name)
	}
	if *rec.RecoveryAction != "RecoverFiles" || *rec.SnapshotEnvironment != "kPhysical" ||
		(*rec.Status != "Accepted" && *rec.Status != "Running") || *rec.StartTimeUsecs <= 0 {
		t.Errorf("created recovery: action %s env %s status %s start %d", *rec.RecoveryAction, *rec.SnapshotEnvironment,
			*rec.Status, *rec.StartTimeUsecs)
	}
	if rec.PhysicalParams == nil || len(rec.PhysicalParams.Objects) != 1 || *rec.PhysicalParams.Objects[0].SnapshotID != f.snapID ||
		*rec.PhysicalParams.Objects[0].ProtectionGroupID != f.group {
		t.Errorf("created recovery: physicalParams %+v", rec.PhysicalParams)
	}

	done := waitRecovery(t, f.tenant, *rec.ID)
	if *done.Status != "Succeeded" || done.EndTimeUsecs == nil || *done.EndTimeUsecs < *done.StartTimeUsecs {
		t.Fatalf("recovery ended %s (messages %v)", *done.Status, done.Messages)
	}
	o := done.PhysicalParams.Objects[0]
	var subBytes int64
	entries, _ := os.ReadDir(filepath.Join(f.dir, "sub"))
	for _, e := range entries {
		info, _ := e.Info()
		subBytes += info.Size()
	}
	f00, _ := os.Stat(filepath.Join(f.dir, "f00.bin"))
	if *o.Status != "Succeeded" || *o.BytesRestored != subBytes+f00.Size() {
		t.Errorf("object: status %s bytesRestored %d, want %d", *o.Status, *o.BytesRestored, subBytes+f00.Size())
	}
	ff := done.PhysicalParams.RecoverFileAndFolderParams.FilesAndFolders
	if len(ff) != 2 || *ff[0].Status != "Finished" || *ff[0].DestinationDir != alt {
		t.Errorf("filesAndFolders: %+v", ff)
	}
	for _, e := range entries {
		sameFile(t, filepath.Join(f.dir, "sub", e.Name()), filepath.Join(alt, "sub", e.Name()))
	}
	sameFile(t, filepath.Join(f.dir, "f00.bin"), filepath.Join(alt, "f00.bin"))

	// GetRecoveries with filters.
	list, resp, err := svc.GetRecoveries(&backuprecoveryv1.GetRecoveriesOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Ids: []string{*rec.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(list.Recoveries) != 1 || *list.Recoveries[0].ID != *rec.ID || *list.Recoveries[0].Status != "Succeeded" {
		t.Errorf("GetRecoveries by id: %+v", list.Recoveries)
	}
	list, resp, err = svc.GetRecoveries(&backuprecoveryv1.GetRecoveriesOptions{
		XIBMTenantID: core.StringPtr(f.tenant), RecoveryActions: []string{"RecoverFiles"}, Status: []string{"Succeeded"},
		SnapshotEnvironments: []string{"kPhysical"}, StartTimeUsecs: core.Int64Ptr(*rec.StartTimeUsecs - 1),
	})
	wantStatus(t, resp, err, 200)
	found := false
	for _, r := range list.Recoveries {
		found = found || *r.ID == *rec.ID
		if *r.RecoveryAction != "RecoverFiles" || *r.Status != "Succeeded" || *r.SnapshotEnvironment != "kPhysical" ||
			*r.StartTimeUsecs < *rec.StartTimeUsecs-1 {
			t.Errorf("GetRecoveries with filters lists %s (%s %s %s) that does not match them", *r.ID,
				*r.RecoveryAction, *r.Status, *r.SnapshotEnvironment)
		}
	}
	if !found {
		t.Errorf("GetRecoveries with filters: the created recovery %s is not listed (%d listed)", *rec.ID, len(list.Recoveries))
	}
	list, resp, err = svc.GetRecoveries(&backuprecoveryv1.GetRecoveriesOptions{
		XIBMTenantID: core.StringPtr(f.tenant), RecoveryActions: []string{"DownloadFilesAndFolders"},
	})
	wantStatus(t, resp, err, 200)
	for _, r := range list.Recoveries {
		if *r.ID == *rec.ID {
			t.Errorf("a RecoverFiles recovery listed under DownloadFilesAndFolders")
		}
	}
	list, resp, err = svc.GetRecoveries(&backuprecoveryv1.GetRecoveriesOptions{XIBMTenantID: core.StringPtr(tenantB)})
	wantStatus(t, resp, err, 200)
	for _, r := range list.Recoveries {
		if *r.ID == *rec.ID {
			t.Errorf("tenant B lists tenant A's recovery")
		}
	}
	_, resp, err = svc.GetRecoveryByID(&backuprecoveryv1.GetRecoveryByIdOptions{XIBMTenantID: core.StringPtr(tenantB), ID: rec.ID})
	wantError(t, resp, err, 404)
	_, resp, err = svc.GetRecoveryByID(&backuprecoveryv1.GetRecoveryByIdOptions{XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr("1:2:987654321")})
	wantError(t, resp, err, 404)
}

func TestCreateRecoveryRefusals(t *testing.T) {
	f := newRunFixture(t)
	alt := filepath.Join(t.TempDir(), "never")
	opts := recoverFilesOptions(f, uniqueName(t, "bad"), alt, filepath.Join(f.dir, "no-such-file"))
	_, resp, err := svc.CreateRecovery(opts)
	if msg := wantError(t, resp, err, 404); !strings.Contains(msg, "no-such-file") {
		t.Errorf("missing path: message %q does not name it", msg)
	}
	opts = recoverFilesOptions(f, uniqueName(t, "bad"), alt, "relative/path")
	_, resp, err = svc.CreateRecovery(opts)
	wantError(t, resp, err, 400)
	opts = recoverFilesOptions(f, uniqueName(t, "bad"), alt, filepath.Join(f.dir, "sub")+"/../f00.bin")
	_, resp, err = svc.CreateRecovery(opts)
	wantError(t, resp, err, 400)
	opts = recoverFilesOptions(f, uniqueName(t, "bad"), alt, filepath.Join(f.dir, "sub"))
	opts.PhysicalParams.RecoveryAction = core.StringPtr("RecoverPhysicalVolumes")
	_, resp, err = svc.CreateRecovery(opts)
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "recoveryAction") {
		t.Errorf("RecoverPhysicalVolumes: message %q does not name recoveryAction", msg)
	}
	opts = recoverFilesOptions(f, uniqueName(t, "bad"), alt, filepath.Join(f.dir, "sub"))
	opts.PhysicalParams.Objects[0].SnapshotID = core.StringPtr(strings.Repeat("0", 64))
	_, resp, err = svc.CreateRecovery(opts)
	wantError(t, resp, err, 404)
	if _, err := os.Stat(alt); err == nil {
		t.Errorf("a refused recovery wrote %s", alt)
	}
}

func TestCancelRecoveryByID(t *testing.T) {
	f := newRunFixture(t)
	target := filepath.Join(t.TempDir(), "c")
	rec, resp, err := svc.CreateRecovery(recoverFilesOptions(f, uniqueName(t, "cancel"), target, f.dir))
	wantStatus(t, resp, err, 201)
	// The delay hook (main_test.go) holds it Running for recoveryDelay: the cancel lands while it runs.
	r := adminCall(t, "POST", "/data-protect/recoveries/"+*rec.ID+"/cancel", f.tenant, nil)
	if r.Status != 200 {
		t.Fatalf("CancelRecoveryByID of a running recovery: %d %s", r.Status, r.Body)
	}
	done := waitRecovery(t, f.tenant, *rec.ID)
	if *done.Status != "Canceled" {
		t.Fatalf("after a cancel: status %s, want Canceled (messages %v)", *done.Status, done.Messages)
	}
	if _, err := os.Stat(filepath.Join(target, filepath.Base(f.dir))); err == nil {
		t.Errorf("a recovery canceled before it began restored %s", target)
	}
	// A second cancel is accepted again (as e2e_recover expects) and changes nothing.
	if r = adminCall(t, "POST", "/data-protect/recoveries/"+*rec.ID+"/cancel", f.tenant, nil); r.Status != 200 {
		t.Errorf("second cancel of a canceled recovery: %d %s", r.Status, r.Body)
	}
	if again := waitRecovery(t, f.tenant, *rec.ID); *again.Status != "Canceled" {
		t.Errorf("after a second cancel: status %s", *again.Status)
	}
	if r = adminCall(t, "POST", "/data-protect/recoveries/1:2:987654321/cancel", f.tenant, nil); r.Status != 404 {
		t.Errorf("cancel of an unknown recovery: %d", r.Status)
	}
	if r = adminCall(t, "POST", "/data-protect/recoveries/"+*rec.ID+"/cancel", tenantB, nil); r.Status != 404 {
		t.Errorf("cancel of another tenant's recovery: %d", r.Status)
	}
}

func TestDownloadFilesFromRecovery(t *testing.T) {
	f := newRunFixture(t)
	name := uniqueName(t, "dl")
	rec, resp, err := svc.CreateDownloadFilesAndFoldersRecovery(&backuprecoveryv1.CreateDownloadFilesAndFoldersRecoveryOptions{
		XIBMTenantID:    core.StringPtr(f.tenant),
		Name:            core.StringPtr(name),
		Object:          &backuprecoveryv1.CommonRecoverObjectSnapshotParams{SnapshotID: core.StringPtr(f.snapID)},
		FilesAndFolders: []backuprecoveryv1.FilesAndFoldersObject{{AbsolutePath: core.StringPtr(filepath.Join(f.dir, "sub")), IsDirectory: core.BoolPtr(true)}},
	})
	wantStatus(t, resp, err, 201)
	if !recoveryIDPattern.MatchString(*rec.ID) || *rec.RecoveryAction != "DownloadFilesAndFolders" || *rec.Name != name {
		t.Errorf("download recovery: id %s action %s", *rec.ID, *rec.RecoveryAction)
	}
	done := waitRecovery(t, f.tenant, *rec.ID)
	if *done.Status != "Succeeded" {
		t.Fatalf("download recovery ended %s: %v", *done.Status, done.Messages)
	}
	// The SDK's call (it checks the status only), then the bytes.
	resp, err = svc.DownloadFilesFromRecovery(&backuprecoveryv1.DownloadFilesFromRecoveryOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: rec.ID,
	})
	wantStatus(t, resp, err, 200)
	resp, err = svc.DownloadFilesFromRecovery(&backuprecoveryv1.DownloadFilesFromRecoveryOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: rec.ID, StartOffset: core.Int64Ptr(512), Length: core.Int64Ptr(1024),
	})
	wantStatus(t, resp, err, 200)
	resp, err = svc.DownloadFilesFromRecovery(&backuprecoveryv1.DownloadFilesFromRecoveryOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: rec.ID, StartOffset: core.Int64Ptr(0), Length: core.Int64Ptr(9 << 20),
	})
	wantError(t, resp, err, 400)
	whole := adminCall(t, "GET", "/data-protect/recoveries/"+*rec.ID+"/download-files", f.tenant, nil)
	if whole.Status != 200 || whole.Header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("download-files: %d %s", whole.Status, whole.Header.Get("Content-Type"))
	}
	var joined []byte
	for off := 0; off < len(whole.Body); off += 100000 {
		part := adminCall(t, "GET", fmt.Sprintf("/data-protect/recoveries/%s/download-files?startOffset=%d&length=100000", *rec.ID, off), f.tenant, nil)
		if part.Status != 200 {
			t.Fatalf("range at %d: %d", off, part.Status)
		}
		joined = append(joined, part.Body...)
	}
	if !bytes.Equal(joined, whole.Body) {
		t.Fatalf("the ranges (%d bytes) differ from the whole (%d bytes)", len(joined), len(whole.Body))
	}
	// The archive holds sub/ with the files' bytes.
	tr := tar.NewReader(bytes.NewReader(whole.Body))
	found := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			want, err := os.ReadFile(filepath.Join(f.dir, h.Name))
			got, _ := io.ReadAll(tr)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("archive member %s differs from the source", h.Name)
			}
			found++
		}
	}
	if found != int(f.files/2) {
		t.Errorf("archive has %d files, want %d", found, f.files/2)
	}
	resp, err = svc.DownloadFilesFromRecovery(&backuprecoveryv1.DownloadFilesFromRecoveryOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: rec.ID,
	})
	wantError(t, resp, err, 404)
}

func TestDownloadIndexedFile(t *testing.T) {
	f := newRunFixture(t)
	p := filepath.Join(f.dir, "f04.bin")
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := svc.DownloadIndexedFile(&backuprecoveryv1.DownloadIndexedFileOptions{
		XIBMTenantID: core.StringPtr(f.tenant), SnapshotsID: core.StringPtr(f.snapID), FilePath: core.StringPtr(p),
	})
	wantStatus(t, resp, err, 200)
	resp, err = svc.DownloadIndexedFile(&backuprecoveryv1.DownloadIndexedFileOptions{
		XIBMTenantID: core.StringPtr(f.tenant), SnapshotsID: core.StringPtr(f.snapID), FilePath: core.StringPtr(p),
		StartOffset: core.Int64Ptr(10), Length: core.Int64Ptr(100),
	})
	wantStatus(t, resp, err, 200)
	r := adminCall(t, "GET", "/data-protect/snapshots/"+f.snapID+"/download-file?filePath="+p, f.tenant, nil)
	if r.Status != 200 || !bytes.Equal(r.Body, want) {
		t.Errorf("download-file: %d, %d bytes (want %d)", r.Status, len(r.Body), len(want))
	}
	r = adminCall(t, "GET", fmt.Sprintf("/data-protect/snapshots/%s/download-file?filePath=%s&startOffset=10&length=100", f.snapID, p), f.tenant, nil)
	if r.Status != 200 || !bytes.Equal(r.Body, want[10:110]) {
		t.Errorf("download-file range: %d, %d bytes", r.Status, len(r.Body))
	}
	resp, err = svc.DownloadIndexedFile(&backuprecoveryv1.DownloadIndexedFileOptions{
		XIBMTenantID: core.StringPtr(f.tenant), SnapshotsID: core.StringPtr(f.snapID), FilePath: core.StringPtr(p + ".missing"),
	})
	if msg := wantError(t, resp, err, 404); !strings.Contains(msg, "f04.bin.missing") {
		t.Errorf("missing file: message %q", msg)
	}
	resp, err = svc.DownloadIndexedFile(&backuprecoveryv1.DownloadIndexedFileOptions{
		XIBMTenantID: core.StringPtr(f.tenant), SnapshotsID: core.StringPtr(f.snapID), FilePath: core.StringPtr(f.dir),
	})
	wantError(t, resp, err, 400)
	resp, err = svc.DownloadIndexedFile(&backuprecoveryv1.DownloadIndexedFileOptions{
		XIBMTenantID: core.StringPtr(tenantB), SnapshotsID: core.StringPtr(f.snapID), FilePath: core.StringPtr(p),
	})
	wantError(t, resp, err, 404)
}
