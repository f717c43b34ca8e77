// runs_test.go: protection runs and their snapshots through the official client:
// CreateProtectionGroupRun (202), GetProtectionGroupRuns, GetProtectionGroupRun and
// GetProtectionRunProgress (absent from SDK v1.0.3: raw calls, the run decoded with the SDK's model),
// GetObjectSnapshots, GetRestorePointsInTimeRange (201), UpdateProtectionGroupRun (207),
// PerformActionOnProtectionGroupRun and SearchProtectedObjects. A run really backs up a temporary
// directory of this machine (registered as the local host); what the SDK decodes carries the run's status, counts, sizes and
// the snapshot id, and the snapshot lists name the same snapshot. Bad input is 400, unknown or
// another tenant's ids are 404, a finished run cannot be canceled (409).
package conformance

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

var runIDPattern = regexp.MustCompile(`^\d+:\d+$`)
var snapshotIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// runFixture: a tenant with this machine registered, a policy and a kFile group over a fresh
// directory of files; and one finished kRegular run of it.
type runFixture struct {
	tenant  string
	host    int64
	group   string
	dir     string
	files   int64
	bytes   int64
	runID   string
	snapID  string
	started int64
}

// makeTree fills dir with n random files (and a subdirectory); returns their total size.
func makeTree(t *testing.T, dir string, n int) int64 {
	t.Helper()
	var total int64
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		b := make([]byte, 1000+i*4099)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("f%02d.bin", i))
		if i%2 == 1 {
			p = filepath.Join(dir, "sub", fmt.Sprintf("f%02d.bin", i))
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
	}
	return total
}

// getRun: GET .../runs/{runId} (not in SDK v1.0.3) decoded with the SDK's model.
func getRun(t *testing.T, tenant, group, runID string, details bool) (*backuprecoveryv1.ProtectionGroupRun, *rawResp) {
	t.Helper()
	path := fmt.Sprintf("/data-protect/protection-groups/%s/runs/%s", group, runID)
	if details {
		path += "?includeObjectDetails=true"
	}
	r := adminCall(t, "GET", path, tenant, nil)
	if r.Status != 200 {
		return nil, r
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatalf("GetProtectionGroupRun body: %v", err)
	}
	var run *backuprecoveryv1.ProtectionGroupRun
	if err := backuprecoveryv1.UnmarshalProtectionGroupRun(raw, &run); err != nil {
		t.Fatalf("the SDK cannot decode GetProtectionGroupRun: %v\n%s", err, r.Body)
	}
	return run, r
}

// waitRun polls until the run finished; returns it as the SDK decodes it.
func waitRun(t *testing.T, tenant, group, runID string) *backuprecoveryv1.ProtectionGroupRun {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		run, r := getRun(t, tenant, group, runID, true)
		if run == nil {
			t.Fatalf("GetProtectionGroupRun: %d %s", r.Status, r.Body)
		}
		s := *run.LocalBackupInfo.Status
		if s != "Accepted" && s != "Running" && s != "Canceling" {
			return run
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish within 120 s", runID)
	return nil
}

// startRun: CreateProtectionGroupRun; a run the schedule started in the meantime is waited for.
func startRun(t *testing.T, tenant, group, runType string) string {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		res, resp, err := svc.CreateProtectionGroupRun(&backuprecoveryv1.CreateProtectionGroupRunOptions{
			XIBMTenantID: core.StringPtr(tenant),
			ID:           core.StringPtr(group),
			RunType:      core.StringPtr(runType),
		})
		if statusOf(resp) == 409 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		wantStatus(t, resp, err, 202)
		if res.ProtectionGroupID == nil || *res.ProtectionGroupID != group {
			t.Fatalf("CreateProtectionGroupRun: protectionGroupId %v, want %s", res.ProtectionGroupID, group)
		}
		// The SDK model has only protectionGroupId: the new run is the group's newest.
		list, resp2, err := svc.GetProtectionGroupRuns(&backuprecoveryv1.GetProtectionGroupRunsOptions{
			XIBMTenantID: core.StringPtr(tenant), ID: core.StringPtr(group), NumRuns: core.Int64Ptr(1),
		})
		wantStatus(t, resp2, err, 200)
		if len(list.Runs) != 1 || list.Runs[0].ID == nil {
			t.Fatalf("no run listed after CreateProtectionGroupRun")
		}
		return *list.Runs[0].ID
	}
	t.Fatalf("CreateProtectionGroupRun stayed 409")
	return ""
}

func newRunFixture(t *testing.T) *runFixture {
	t.Helper()
	f := &runFixture{dir: t.TempDir()}
	var vol int64
	var policy string
	f.tenant, f.host, vol, policy = groupEnv(t)
	_ = vol
	f.files = 10
	f.bytes = makeTree(t, f.dir, int(f.files))
	g, resp, err := svc.CreateProtectionGroup(fileGroupOptions(f.tenant, uniqueName(t, "runs"), policy, f.host, f.dir))
	wantStatus(t, resp, err, 201)
	f.group = *g.ID
	f.started = time.Now().UnixMicro()
	f.runID = startRun(t, f.tenant, f.group, "kRegular")
	run := waitRun(t, f.tenant, f.group, f.runID)
	if *run.LocalBackupInfo.Status != "Succeeded" {
		t.Fatalf("first run: status %s, messages %v", *run.LocalBackupInfo.Status, run.LocalBackupInfo.Messages)
	}
	if len(run.Objects) != 1 || run.Objects[0].LocalSnapshotInfo == nil || run.Objects[0].LocalSnapshotInfo.SnapshotInfo == nil {
		t.Fatalf("first run: no object result")
	}
	f.snapID = *run.Objects[0].LocalSnapshotInfo.SnapshotInfo.SnapshotID
	return f
}

func TestCreateProtectionGroupRun(t *testing.T) {
	f := newRunFixture(t)
	run := waitRun(t, f.tenant, f.group, f.runID)
	if !runIDPattern.MatchString(*run.ID) || *run.ID != f.runID {
		t.Errorf("run id %q, want %q (form n:usecs)", *run.ID, f.runID)
	}
	if *run.ProtectionGroupID != f.group || run.ProtectionGroupName == nil || !strings.HasPrefix(*run.ProtectionGroupName, "runs-") {
		t.Errorf("run names group %v %v", run.ProtectionGroupID, run.ProtectionGroupName)
	}
	lb := run.LocalBackupInfo
	if *lb.RunType != "kRegular" || *lb.SuccessfulObjectsCount != 1 || *lb.FailedObjectsCount != 0 {
		t.Errorf("localBackupInfo: %+v", lb)
	}
	if *lb.StartTimeUsecs < f.started-60_000_000 || *lb.EndTimeUsecs < *lb.StartTimeUsecs {
		t.Errorf("times: start %d end %d (test began %d)", *lb.StartTimeUsecs, *lb.EndTimeUsecs, f.started)
	}
	if *lb.LocalSnapshotStats.BytesRead != f.bytes || *lb.LocalSnapshotStats.LogicalSizeBytes != f.bytes ||
		*lb.LocalSnapshotStats.BytesWritten <= 0 {
		t.Errorf("stats: read %d logical %d written %d, want %d", *lb.LocalSnapshotStats.BytesRead,
			*lb.LocalSnapshotStats.LogicalSizeBytes, *lb.LocalSnapshotStats.BytesWritten, f.bytes)
	}
	si := run.Objects[0].LocalSnapshotInfo.SnapshotInfo
	if !snapshotIDPattern.MatchString(*si.SnapshotID) || *si.Status != "kSuccessful" || *si.TotalFileCount != f.files {
		t.Errorf("snapshotInfo: id %s status %s files %d", *si.SnapshotID, *si.Status, *si.TotalFileCount)
	}
	if *run.Objects[0].Object.ID != f.host || *run.Objects[0].Object.Environment != "kPhysical" {
		t.Errorf("object: %+v", run.Objects[0].Object)
	}

	// A second kRegular run reads nothing and makes a new snapshot.
	id2 := startRun(t, f.tenant, f.group, "kRegular")
	run2 := waitRun(t, f.tenant, f.group, id2)
	if *run2.LocalBackupInfo.Status != "Succeeded" || *run2.LocalBackupInfo.LocalSnapshotStats.BytesRead != 0 {
		t.Errorf("second run: status %s read %d", *run2.LocalBackupInfo.Status, *run2.LocalBackupInfo.LocalSnapshotStats.BytesRead)
	}
	if *run2.Objects[0].LocalSnapshotInfo.SnapshotInfo.SnapshotID == f.snapID {
		t.Errorf("second run reused the snapshot id")
	}

	// Bad input and unknown groups.
	_, resp, err := svc.CreateProtectionGroupRun(&backuprecoveryv1.CreateProtectionGroupRunOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), RunType: core.StringPtr("kLog"),
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "runType") {
		t.Errorf("kLog: message %q does not name runType", msg)
	}
	_, resp, err = svc.CreateProtectionGroupRun(&backuprecoveryv1.CreateProtectionGroupRunOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), RunType: core.StringPtr("kRegular"),
		Objects: []backuprecoveryv1.RunObject{{ID: core.Int64Ptr(987654321)}},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "objects[0].id") {
		t.Errorf("foreign object: message %q", msg)
	}
	_, resp, err = svc.CreateProtectionGroupRun(&backuprecoveryv1.CreateProtectionGroupRunOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: core.StringPtr(f.group), RunType: core.StringPtr("kRegular"),
	})
	wantError(t, resp, err, 404)
}

func TestGetProtectionGroupRuns(t *testing.T) {
	f := newRunFixture(t)
	idFull := startRun(t, f.tenant, f.group, "kFull")
	waitRun(t, f.tenant, f.group, idFull)
	res, resp, err := svc.GetProtectionGroupRuns(&backuprecoveryv1.GetProtectionGroupRunsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), IncludeObjectDetails: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if len(res.Runs) < 2 || res.TotalRuns == nil || *res.TotalRuns != int64(len(res.Runs)) {
		t.Fatalf("runs: %d listed, totalRuns %v", len(res.Runs), res.TotalRuns)
	}
	if *res.Runs[0].ID != idFull || *res.Runs[0].LocalBackupInfo.RunType != "kFull" {
		t.Errorf("newest first: got %s (%s)", *res.Runs[0].ID, *res.Runs[0].LocalBackupInfo.RunType)
	}
	if len(res.Runs[0].Objects) != 1 || *res.Runs[0].LocalBackupInfo.LocalSnapshotStats.BytesRead != f.bytes {
		t.Errorf("kFull run: objects %d, read %d want %d", len(res.Runs[0].Objects),
			*res.Runs[0].LocalBackupInfo.LocalSnapshotStats.BytesRead, f.bytes)
	}
	filtered, resp, err := svc.GetProtectionGroupRuns(&backuprecoveryv1.GetProtectionGroupRunsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), RunTypes: []string{"kFull"},
		LocalBackupRunStatus: []string{"Succeeded", "SucceededWithWarning"},
	})
	wantStatus(t, resp, err, 200)
	if len(filtered.Runs) != 1 || *filtered.Runs[0].ID != idFull || len(filtered.Runs[0].Objects) != 0 {
		t.Errorf("filter kFull: %d runs", len(filtered.Runs))
	}
	one, resp, err := svc.GetProtectionGroupRuns(&backuprecoveryv1.GetProtectionGroupRunsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), RunID: core.StringPtr(f.runID),
	})
	wantStatus(t, resp, err, 200)
	if len(one.Runs) != 1 || *one.Runs[0].ID != f.runID {
		t.Errorf("runId filter: %d runs", len(one.Runs))
	}
	_, resp, err = svc.GetProtectionGroupRuns(&backuprecoveryv1.GetProtectionGroupRunsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), RunID: core.StringPtr("not-a-run"),
	})
	wantError(t, resp, err, 400)
	_, resp, err = svc.GetProtectionGroupRuns(&backuprecoveryv1.GetProtectionGroupRunsOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: core.StringPtr(f.group),
	})
	wantError(t, resp, err, 404)
}

func TestGetProtectionGroupRun(t *testing.T) {
	f := newRunFixture(t)
	run, r := getRun(t, f.tenant, f.group, f.runID, false)
	if run == nil {
		t.Fatalf("GetProtectionGroupRun: %d %s", r.Status, r.Body)
	}
	if *run.ID != f.runID || *run.LocalBackupInfo.Status != "Succeeded" || len(run.Objects) != 0 {
		t.Errorf("run: id %s status %s objects %d", *run.ID, *run.LocalBackupInfo.Status, len(run.Objects))
	}
	if run.ProtectionGroupInstanceID == nil || *run.ProtectionGroupInstanceID <= 0 || run.HasLocalSnapshot == nil || !*run.HasLocalSnapshot {
		t.Errorf("run: instance %v hasLocalSnapshot %v", run.ProtectionGroupInstanceID, run.HasLocalSnapshot)
	}
	if _, r := getRun(t, tenantB, f.group, f.runID, false); r.Status != 404 {
		t.Errorf("another tenant: %d", r.Status)
	}
	if _, r := getRun(t, f.tenant, f.group, "1-2", false); r.Status != 400 || !strings.Contains(r.Message(), "runId") {
		t.Errorf("bad run id: %d %q", r.Status, r.Message())
	}
	// Progress of the finished run (GetProtectionRunProgress: neither the call nor its model is in SDK
	// v1.0.3), checked against the wire contract's field names and types.
	p := adminCall(t, "GET", "/data-protect/runs/"+f.runID+"/progress", f.tenant, nil)
	if p.Status != 200 {
		t.Fatalf("progress: %d %s", p.Status, p.Body)
	}
	var body struct {
		LocalRun struct {
			Status              string  `json:"status"`
			PercentageCompleted float32 `json:"percentageCompleted"`
			StartTimeUsecs      int64   `json:"startTimeUsecs"`
			EndTimeUsecs        int64   `json:"endTimeUsecs"`
			Stats               struct {
				BackupFileCount int64 `json:"backupFileCount"`
				TotalFileCount  int64 `json:"totalFileCount"`
				FileWalkDone    bool  `json:"fileWalkDone"`
			} `json:"stats"`
			Objects []struct {
				ID                  int64   `json:"id"`
				Status              string  `json:"status"`
				PercentageCompleted float32 `json:"percentageCompleted"`
			} `json:"objects"`
		} `json:"localRun"`
	}
	if err := json.Unmarshal(p.Body, &body); err != nil {
		t.Fatalf("progress does not decode: %v\n%s", err, p.Body)
	}
	lr := body.LocalRun
	if lr.Status != "Finished" || lr.PercentageCompleted != 100 || lr.Stats.BackupFileCount != f.files ||
		!lr.Stats.FileWalkDone || len(lr.Objects) != 1 || lr.Objects[0].ID != f.host || lr.EndTimeUsecs < lr.StartTimeUsecs {
		t.Errorf("progress: %s", p.Body)
	}
}

func TestGetObjectSnapshots(t *testing.T) {
	f := newRunFixture(t)
	res, resp, err := svc.GetObjectSnapshots(&backuprecoveryv1.GetObjectSnapshotsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.Int64Ptr(f.host), ProtectionGroupIds: []string{f.group},
	})
	wantStatus(t, resp, err, 200)
	if len(res.Snapshots) != 1 {
		t.Fatalf("snapshots: %d, want 1", len(res.Snapshots))
	}
	s := res.Snapshots[0]
	if *s.ID != f.snapID || *s.ObjectID != f.host || *s.ProtectionGroupID != f.group || *s.ProtectionGroupRunID != f.runID ||
		*s.RunType != "kRegular" || *s.Environment != "kPhysical" || *s.SnapshotTimestampUsecs <= 0 ||
		*s.RunStartTimeUsecs <= 0 || s.RunInstanceID == nil {
		t.Errorf("snapshot: %+v", s)
	}
	byInstance, resp, err := svc.GetObjectSnapshots(&backuprecoveryv1.GetObjectSnapshotsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.Int64Ptr(f.host), RunInstanceIds: []int64{*s.RunInstanceID},
	})
	wantStatus(t, resp, err, 200)
	if len(byInstance.Snapshots) != 1 || *byInstance.Snapshots[0].ID != f.snapID {
		t.Errorf("runInstanceIds filter: %d snapshots", len(byInstance.Snapshots))
	}
	otherInstance, resp, err := svc.GetObjectSnapshots(&backuprecoveryv1.GetObjectSnapshotsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.Int64Ptr(f.host), RunInstanceIds: []int64{*s.RunInstanceID + 100000},
	})
	wantStatus(t, resp, err, 200)
	if len(otherInstance.Snapshots) != 0 {
		t.Errorf("runInstanceIds filter of another run: %d snapshots", len(otherInstance.Snapshots))
	}
	none, resp, err := svc.GetObjectSnapshots(&backuprecoveryv1.GetObjectSnapshotsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.Int64Ptr(f.host), ProtectionGroupIds: []string{f.group},
		RunTypes: []string{"kFull"},
	})
	wantStatus(t, resp, err, 200)
	if len(none.Snapshots) != 0 {
		t.Errorf("kFull filter: %d snapshots", len(none.Snapshots))
	}
	_, resp, err = svc.GetObjectSnapshots(&backuprecoveryv1.GetObjectSnapshotsOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: core.Int64Ptr(f.host),
	})
	wantError(t, resp, err, 404)
}

func TestGetRestorePointsInTimeRange(t *testing.T) {
	f := newRunFixture(t)
	now := time.Now().UnixMicro()
	res, resp, err := svc.GetRestorePointsInTimeRange(&backuprecoveryv1.GetRestorePointsInTimeRangeOptions{
		XIBMTenantID:       core.StringPtr(f.tenant),
		StartTimeUsecs:     core.Int64Ptr(f.started - 3600_000_000),
		EndTimeUsecs:       core.Int64Ptr(now + 3600_000_000),
		Environment:        core.StringPtr("kPhysical"),
		ProtectionGroupIds: []string{f.group},
	})
	wantStatus(t, resp, err, 201)
	if len(res.FullSnapshotInfo) != 1 {
		t.Fatalf("restore points: %d, want 1", len(res.FullSnapshotInfo))
	}
	ri := res.FullSnapshotInfo[0].RestoreInfo
	if ri == nil || *ri.ProtectionGroupID != f.group || *ri.ObjectInfo.ID != f.host || *ri.RunStartTimeUsecs <= 0 {
		t.Errorf("restoreInfo: %+v", ri)
	}
	empty, resp, err := svc.GetRestorePointsInTimeRange(&backuprecoveryv1.GetRestorePointsInTimeRangeOptions{
		XIBMTenantID: core.StringPtr(f.tenant), StartTimeUsecs: core.Int64Ptr(1), EndTimeUsecs: core.Int64Ptr(2),
		Environment: core.StringPtr("kPhysical"), ProtectionGroupIds: []string{f.group},
	})
	wantStatus(t, resp, err, 201)
	if len(empty.FullSnapshotInfo) != 0 {
		t.Errorf("1970 range: %d restore points", len(empty.FullSnapshotInfo))
	}
	_, resp, err = svc.GetRestorePointsInTimeRange(&backuprecoveryv1.GetRestorePointsInTimeRangeOptions{
		XIBMTenantID: core.StringPtr(f.tenant), StartTimeUsecs: core.Int64Ptr(5), EndTimeUsecs: core.Int64Ptr(2),
		Environment: core.StringPtr("kPhysical"), ProtectionGroupIds: []string{f.group},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "endTimeUsecs") {
		t.Errorf("reversed range: message %q", msg)
	}
}

func TestUpdateAndActOnProtectionGroupRuns(t *testing.T) {
	f := newRunFixture(t)
	res, resp, err := svc.UpdateProtectionGroupRun(&backuprecoveryv1.UpdateProtectionGroupRunOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group),
		UpdateProtectionGroupRunParams: []backuprecoveryv1.UpdateProtectionGroupRunParams{{
			RunID:               core.StringPtr(f.runID),
			LocalSnapshotConfig: &backuprecoveryv1.UpdateLocalSnapshotConfig{EnableLegalHold: core.BoolPtr(true), DaysToKeep: core.Int64Ptr(30)},
		}},
	})
	wantStatus(t, resp, err, 207)
	if len(res.SuccessfulRunIds) != 1 || res.SuccessfulRunIds[0] != f.runID || len(res.FailedRuns) != 0 {
		t.Errorf("update: %+v", res)
	}
	run, _ := getRun(t, f.tenant, f.group, f.runID, true)
	if run == nil || run.OnLegalHold == nil || !*run.OnLegalHold {
		t.Errorf("legal hold not shown")
	}
	act, resp, err := svc.PerformActionOnProtectionGroupRun(&backuprecoveryv1.PerformActionOnProtectionGroupRunOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group), Action: core.StringPtr("Cancel"),
		CancelParams: []backuprecoveryv1.CancelProtectionGroupRunRequest{{RunID: core.StringPtr(f.runID)}},
	})
	if msg := wantError(t, resp, err, 409); !strings.Contains(msg, "finished") {
		t.Errorf("cancel of a finished run: %q (%v)", msg, act)
	}
}

func TestSearchProtectedObjects(t *testing.T) {
	f := newRunFixture(t)
	res, resp, err := svc.SearchProtectedObjects(&backuprecoveryv1.SearchProtectedObjectsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ProtectionGroupIds: []string{f.group},
	})
	wantStatus(t, resp, err, 200)
	if res.NumResults == nil || *res.NumResults != 1 || len(res.Objects) != 1 {
		t.Fatalf("protected objects: %v results, %d objects", res.NumResults, len(res.Objects))
	}
	o := res.Objects[0]
	if *o.ID != f.host || *o.Environment != "kPhysical" || len(o.LatestSnapshotsInfo) != 1 {
		t.Fatalf("object: %+v", o)
	}
	li := o.LatestSnapshotsInfo[0]
	if *li.ProtectionGroupID != f.group || *li.ProtectionRunID != f.runID || *li.LocalSnapshotInfo.SnapshotID != f.snapID ||
		*li.LocalSnapshotInfo.LogicalSizeBytes != f.bytes || *li.RunType != "kRegular" {
		t.Errorf("latest snapshot: %+v %+v", li, li.LocalSnapshotInfo)
	}
	if res.Metadata == nil || len(res.Metadata.UniqueProtectionGroupIdentifiers) != 1 ||
		*res.Metadata.UniqueProtectionGroupIdentifiers[0].ProtectionGroupID != f.group {
		t.Errorf("metadata: %+v", res.Metadata)
	}
	other, resp, err := svc.SearchProtectedObjects(&backuprecoveryv1.SearchProtectedObjectsOptions{
		XIBMTenantID: core.StringPtr(tenantB), ProtectionGroupIds: []string{f.group},
	})
	wantStatus(t, resp, err, 200)
	if len(other.Objects) != 0 {
		t.Errorf("another tenant sees %d protected objects", len(other.Objects))
	}
	_, resp, err = svc.SearchProtectedObjects(&backuprecoveryv1.SearchProtectedObjectsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Environments: []string{"kNope"},
	})
	wantError(t, resp, err, 400)
}
