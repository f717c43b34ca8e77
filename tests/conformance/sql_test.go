// sql_test.go: PostgreSQL protection (kSQL) through the official client: RegisterProtectionSource of a
// kSQL host whose PostgreSQL 15 the test starts (Debian's packages, initdb in a temporary directory, a
// private socket directory and port), the discovered instance and databases (GetProtectionSourceRegistration,
// SearchObjects), CreateProtectionGroup / GetProtectionGroupByID / UpdateProtectionGroup with mssqlParams,
// runs of each type (kFull, kRegular, kLog), GetRestorePointsInTimeRange for the kSQL group, and
// CreateRecovery with mssqlParams (one database restored under a new name at a point in time), checked
// against the rows the source held at that moment. The SDK must decode every answer.
package conformance

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

var pgPortSeq atomic.Int64

// pgServer: a private PostgreSQL for one test.
type pgServer struct {
	root, data, sock string
	port             int
}

// asPostgres runs a PostgreSQL tool of pgBin as the postgres user (pgCmd), bounded in time.
func asPostgres(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	cmd := pgCmd(filepath.Base(name), args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return string(out), fmt.Errorf("%s timed out after %v", name, timeout)
	}
	return string(out), err
}

// startPG: initdb + start on a private socket directory; stopped and removed at the test's end.
func startPG(t *testing.T) *pgServer {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Fatalf("PostgreSQL 15 is not installed (%v): scripts/setup.sh installs it", err)
	}
	pw, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(pw.Uid)
	gid, _ := strconv.Atoi(pw.Gid)
	root, err := os.MkdirTemp("", "coffer-conf-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgServer{root: root, data: filepath.Join(root, "data"), sock: filepath.Join(root, "sock"),
		port: 55500 + int(pgPortSeq.Add(1))}
	if err := os.Mkdir(s.sock, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{root, s.sock} {
		if os.Geteuid() == 0 {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = os.Chmod(root, 0o755)
	t.Cleanup(func() {
		_, _ = asPostgres(t, 60*time.Second, filepath.Join(pgBin, "pg_ctl"), "-D", s.data, "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(root)
	})
	if out, err := asPostgres(t, 120*time.Second, filepath.Join(pgBin, "initdb"), "-D", s.data, "-U", "postgres", "-A", "trust", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\nwal_level = replica\n"+
		"max_wal_senders = 10\nmax_replication_slots = 10\nfsync = on\nautovacuum = off\n", s.port, s.sock)
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(conf)
	_ = f.Close()
	if out, err := asPostgres(t, 90*time.Second, filepath.Join(pgBin, "pg_ctl"), "-D", s.data, "-l", filepath.Join(root, "log"), "-w", "-t", "60", "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	return s
}

// sql runs statements in a database through psql; returns the output (unaligned, tuples only).
func (s *pgServer) sql(t *testing.T, db, stmt string) string {
	t.Helper()
	out, err := asPostgres(t, 60*time.Second, filepath.Join(pgBin, "psql"), "-h", s.sock, "-p", strconv.Itoa(s.port),
		"-U", "postgres", "-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", stmt)
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", stmt, err, out)
	}
	return strings.TrimSpace(out)
}

// sqlFixture: a tenant with a running PostgreSQL registered as kSQL, its instance and "shop" database
// objects, a policy with a log schedule, and a kSQL group over the instance.
type sqlFixture struct {
	pg                       *pgServer
	tenant, policy, group    string
	source, instance, shopDB int64
}

func newSQLFixture(t *testing.T) *sqlFixture {
	t.Helper()
	f := &sqlFixture{pg: startPG(t), tenant: uniqueName(t, "sql-tenant")}
	f.pg.sql(t, "postgres", "CREATE DATABASE shop")
	f.pg.sql(t, "shop", "CREATE TABLE orders (id int PRIMARY KEY, note text); "+
		"INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	reg, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID: core.StringPtr(f.tenant),
		Environment:  core.StringPtr("kSQL"),
		Name:         core.StringPtr(uniqueName(t, "pg")),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{
			Endpoint: core.StringPtr("127.0.0.1"), HostType: core.StringPtr("kLinux"),
		},
		AdvancedConfigs: []backuprecoveryv1.KeyValuePair{
			{Key: core.StringPtr("pgPort"), Value: core.StringPtr(strconv.Itoa(f.pg.port))},
			{Key: core.StringPtr("pgSocketDir"), Value: core.StringPtr(f.pg.sock)},
		},
	})
	wantStatus(t, resp, err, 201)
	if reg.ID == nil || reg.SourceInfo == nil || len(reg.SourceInfo.ChildObjects) != 1 {
		t.Fatalf("kSQL registration: want the instance as the one child of sourceInfo, got %s", resp.String())
	}
	f.source = *reg.ID
	inst := reg.SourceInfo.ChildObjects[0]
	if inst.ObjectType == nil || *inst.ObjectType != "kInstance" || inst.ID == nil {
		t.Fatalf("kSQL registration: child is not a kInstance: %s", resp.String())
	}
	f.instance = *inst.ID
	objs, resp, err := svc.SearchObjects(&backuprecoveryv1.SearchObjectsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Environments: []string{"kSQL"}, SearchString: core.StringPtr("shop"),
	})
	wantStatus(t, resp, err, 200)
	for _, o := range objs.Objects {
		if o.ObjectType != nil && *o.ObjectType == "kDatabase" && o.Name != nil && *o.Name == "shop" {
			f.shopDB = *o.ID
		}
	}
	if f.shopDB == 0 {
		t.Fatalf("SearchObjects(kSQL, shop) did not find the database: %s", resp.String())
	}
	pol, resp, err := svc.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(f.tenant),
		Name:         core.StringPtr(uniqueName(t, "sql-policy")),
		BackupPolicy: &backuprecoveryv1.BackupPolicy{
			Regular: &backuprecoveryv1.RegularBackupPolicy{
				Incremental: &backuprecoveryv1.IncrementalBackupPolicy{Schedule: &backuprecoveryv1.IncrementalSchedule{
					Unit: core.StringPtr("Days"), DaySchedule: &backuprecoveryv1.DaySchedule{Frequency: core.Int64Ptr(1)}}},
				Retention: &backuprecoveryv1.Retention{Unit: core.StringPtr("Days"), Duration: core.Int64Ptr(7)},
			},
			Log: &backuprecoveryv1.LogBackupPolicy{
				Schedule:  &backuprecoveryv1.LogSchedule{Unit: core.StringPtr("Hours"), HourSchedule: &backuprecoveryv1.HourSchedule{Frequency: core.Int64Ptr(1)}},
				Retention: &backuprecoveryv1.Retention{Unit: core.StringPtr("Days"), Duration: core.Int64Ptr(7)},
			},
		},
	})
	wantStatus(t, resp, err, 201)
	f.policy = *pol.ID
	g, resp, err := svc.CreateProtectionGroup(&backuprecoveryv1.CreateProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(f.tenant),
		Name:         core.StringPtr(uniqueName(t, "sql-group")),
		PolicyID:     core.StringPtr(f.policy),
		Environment:  core.StringPtr("kSQL"),
		MssqlParams: &backuprecoveryv1.MSSQLProtectionGroupParams{
			ProtectionType: core.StringPtr("kNative"),
			NativeProtectionTypeParams: &backuprecoveryv1.MSSQLNativeProtectionGroupParams{
				Objects: []backuprecoveryv1.MSSQLNativeProtectionGroupObjectParams{{ID: core.Int64Ptr(f.instance)}},
			},
		},
	})
	wantStatus(t, resp, err, 201)
	f.group = *g.ID
	return f
}

// sqlRun starts a run of the fixture's group and waits until it Succeeded; returns the decoded run.
func (f *sqlFixture) sqlRun(t *testing.T, runType string) *backuprecoveryv1.ProtectionGroupRun {
	t.Helper()
	id := startRun(t, f.tenant, f.group, runType)
	run := waitRun(t, f.tenant, f.group, id)
	if *run.LocalBackupInfo.Status != "Succeeded" && *run.LocalBackupInfo.Status != "SucceededWithWarning" {
		t.Fatalf("%s run: status %s, messages %v", runType, *run.LocalBackupInfo.Status, run.LocalBackupInfo.Messages)
	}
	if run.LocalBackupInfo.RunType == nil || *run.LocalBackupInfo.RunType != runType {
		t.Fatalf("%s run: runType %v", runType, run.LocalBackupInfo.RunType)
	}
	return run
}

func TestSQLRegisterAndProtectionGroup(t *testing.T) {
	f := newSQLFixture(t)
	got, resp, err := svc.GetProtectionGroupByID(&backuprecoveryv1.GetProtectionGroupByIdOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group),
	})
	wantStatus(t, resp, err, 200)
	if got.Environment == nil || *got.Environment != "kSQL" || got.MssqlParams == nil ||
		got.MssqlParams.NativeProtectionTypeParams == nil || len(got.MssqlParams.NativeProtectionTypeParams.Objects) != 1 ||
		*got.MssqlParams.NativeProtectionTypeParams.Objects[0].ID != f.instance {
		t.Fatalf("GetProtectionGroupByID: mssqlParams not echoed: %s", resp.String())
	}
	// Update: protect the database object instead of the instance.
	upd, resp, err := svc.UpdateProtectionGroup(&backuprecoveryv1.UpdateProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(f.tenant), ID: core.StringPtr(f.group),
		Name: got.Name, PolicyID: got.PolicyID, Environment: core.StringPtr("kSQL"),
		MssqlParams: &backuprecoveryv1.MSSQLProtectionGroupParams{
			ProtectionType: core.StringPtr("kNative"),
			NativeProtectionTypeParams: &backuprecoveryv1.MSSQLNativeProtectionGroupParams{
				Objects: []backuprecoveryv1.MSSQLNativeProtectionGroupObjectParams{{ID: core.Int64Ptr(f.shopDB)}},
			},
		},
	})
	wantStatus(t, resp, err, 200)
	if *upd.MssqlParams.NativeProtectionTypeParams.Objects[0].ID != f.shopDB {
		t.Fatalf("UpdateProtectionGroup: object not replaced: %s", resp.String())
	}
	// A volume-level kSQL group and an object that is no kSQL object are refused.
	_, resp, err = svc.CreateProtectionGroup(&backuprecoveryv1.CreateProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Name: core.StringPtr(uniqueName(t, "sql-bad")),
		PolicyID: core.StringPtr(f.policy), Environment: core.StringPtr("kSQL"),
		MssqlParams: &backuprecoveryv1.MSSQLProtectionGroupParams{
			ProtectionType: core.StringPtr("kNative"),
			NativeProtectionTypeParams: &backuprecoveryv1.MSSQLNativeProtectionGroupParams{
				Objects: []backuprecoveryv1.MSSQLNativeProtectionGroupObjectParams{{ID: core.Int64Ptr(f.source)}},
			},
		},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "objects") {
		t.Fatalf("a kHost in a kSQL group: message %q does not name the objects", msg)
	}
	list, resp, err := svc.GetProtectionGroups(&backuprecoveryv1.GetProtectionGroupsOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Environments: []string{"kSQL"},
	})
	wantStatus(t, resp, err, 200)
	if len(list.ProtectionGroups) != 1 || *list.ProtectionGroups[0].ID != f.group {
		t.Fatalf("GetProtectionGroups(kSQL): want exactly %s, got %s", f.group, resp.String())
	}
}

func TestSQLRunsRestorePointsAndRecovery(t *testing.T) {
	f := newSQLFixture(t)
	full := f.sqlRun(t, "kFull")
	if len(full.Objects) != 1 || *full.Objects[0].Object.ID != f.instance || full.Objects[0].LocalSnapshotInfo == nil ||
		full.Objects[0].LocalSnapshotInfo.SnapshotInfo == nil || full.Objects[0].LocalSnapshotInfo.SnapshotInfo.SnapshotID == nil {
		t.Fatalf("kFull run: want one snapshot of the instance %d", f.instance)
	}
	snap := *full.Objects[0].LocalSnapshotInfo.SnapshotInfo.SnapshotID
	f.pg.sql(t, "shop", "INSERT INTO orders SELECT g, 'regular' FROM generate_series(5001, 5100) g")
	reg := f.sqlRun(t, "kRegular")
	st := reg.LocalBackupInfo.LocalSnapshotStats
	if st == nil || st.LogicalSizeBytes == nil || st.BytesRead == nil || *st.BytesRead >= *st.LogicalSizeBytes {
		t.Fatalf("kRegular run: localSnapshotStats %+v: an incremental must read less than the instance", st)
	}
	// A moment between two known transactions.
	f.pg.sql(t, "shop", "INSERT INTO orders SELECT g, 'before' FROM generate_series(5101, 5200) g")
	time.Sleep(300 * time.Millisecond)
	point := time.Now().UnixMicro()
	wantRows := f.pg.sql(t, "shop", "SELECT count(*) || ':' || md5(string_agg(id || note, ',' ORDER BY id)) FROM orders")
	time.Sleep(300 * time.Millisecond)
	f.pg.sql(t, "shop", "INSERT INTO orders SELECT g, 'after' FROM generate_series(5201, 5300) g")
	f.pg.sql(t, "postgres", "SELECT pg_switch_wal()")
	f.sqlRun(t, "kLog")

	rp, resp, err := svc.GetRestorePointsInTimeRange(&backuprecoveryv1.GetRestorePointsInTimeRangeOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Environment: core.StringPtr("kSQL"),
		ProtectionGroupIds: []string{f.group}, StartTimeUsecs: core.Int64Ptr(point - 3600e6),
		EndTimeUsecs: core.Int64Ptr(time.Now().UnixMicro()), SourceID: core.Int64Ptr(f.instance),
	})
	wantStatus(t, resp, err, 201)
	if len(rp.FullSnapshotInfo) < 2 {
		t.Fatalf("restore points: want the kFull and kRegular base backups, got %s", resp.String())
	}
	covered := false
	if rp.TimeRangeInfo != nil {
		for _, r := range rp.TimeRangeInfo.TimeRanges {
			if r.StartTimeUsecs != nil && r.EndTimeUsecs != nil && *r.StartTimeUsecs <= point && point <= *r.EndTimeUsecs {
				covered = true
			}
		}
	}
	if !covered {
		t.Fatalf("restore points: no continuous range covers the moment %d: %s", point, resp.String())
	}

	// One database, under a new name on the same instance, at that moment.
	rec, resp, err := svc.CreateRecovery(&backuprecoveryv1.CreateRecoveryOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Name: core.StringPtr(uniqueName(t, "sql-recovery")),
		SnapshotEnvironment: core.StringPtr("kSQL"),
		MssqlParams: &backuprecoveryv1.RecoverSqlParams{
			RecoveryAction: core.StringPtr("RecoverApps"),
			RecoverAppParams: []backuprecoveryv1.RecoverSqlAppParams{{
				SnapshotID: core.StringPtr(snap), PointInTimeUsecs: core.Int64Ptr(point),
				TargetEnvironment: core.StringPtr("kSQL"),
				ObjectInfo:        &backuprecoveryv1.CommonRecoverObjectSnapshotParamsObjectInfo{ID: core.Int64Ptr(f.shopDB)},
				SqlTargetParams: &backuprecoveryv1.SqlTargetParamsForRecoverSqlApp{
					RecoverToNewSource: core.BoolPtr(false),
					OriginalSourceConfig: &backuprecoveryv1.RecoverSqlAppOriginalSourceConfig{
						NewDatabaseName: core.StringPtr("shop_restored"), OverwritingPolicy: core.StringPtr("FailIfExists"),
					},
				},
			}},
		},
	})
	wantStatus(t, resp, err, 201)
	done := waitRecovery(t, f.tenant, *rec.ID)
	if *done.Status != "Succeeded" {
		t.Fatalf("SQL recovery: status %s, messages %v", *done.Status, done.Messages)
	}
	if done.MssqlParams == nil || *done.MssqlParams.RecoveryAction != "RecoverApps" {
		t.Fatalf("SQL recovery: mssqlParams not echoed: %s", resp.String())
	}
	got := f.pg.sql(t, "shop_restored", "SELECT count(*) || ':' || md5(string_agg(id || note, ',' ORDER BY id)) FROM orders")
	if got != wantRows {
		t.Fatalf("database restored to %d: %s, the source held %s then", point, got, wantRows)
	}
	if now := f.pg.sql(t, "shop", "SELECT count(*) FROM orders"); now != "5300" {
		t.Fatalf("the source database changed: %s rows", now)
	}
	// The same name again with FailIfExists is refused, and nothing is queued.
	_, resp, err = svc.CreateRecovery(&backuprecoveryv1.CreateRecoveryOptions{
		XIBMTenantID: core.StringPtr(f.tenant), Name: core.StringPtr(uniqueName(t, "sql-recovery")),
		SnapshotEnvironment: core.StringPtr("kSQL"),
		MssqlParams: &backuprecoveryv1.RecoverSqlParams{
			RecoveryAction: core.StringPtr("RecoverApps"),
			RecoverAppParams: []backuprecoveryv1.RecoverSqlAppParams{{
				SnapshotID: core.StringPtr(snap), TargetEnvironment: core.StringPtr("kSQL"),
				ObjectInfo: &backuprecoveryv1.CommonRecoverObjectSnapshotParamsObjectInfo{ID: core.Int64Ptr(f.shopDB)},
				SqlTargetParams: &backuprecoveryv1.SqlTargetParamsForRecoverSqlApp{
					RecoverToNewSource: core.BoolPtr(false),
					OriginalSourceConfig: &backuprecoveryv1.RecoverSqlAppOriginalSourceConfig{
						NewDatabaseName: core.StringPtr("shop_restored"), OverwritingPolicy: core.StringPtr("FailIfExists"),
					},
				},
			}},
		},
	})
	if code := statusOf(resp); code != 409 && code != 400 {
		t.Fatalf("FailIfExists onto an existing database: want 409 (or 400), got %d %v", code, err)
	}
}
