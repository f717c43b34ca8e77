// pg_test.go: a private PostgreSQL 15 for the suite's kSQL groups (a kSQL group lists kInstance or
// kDatabase objects of a kSQL registration): one server for the whole run, started on first use on
// a unix socket in a temporary directory (port 55293, no TCP), initdb and pg_ctl run as the postgres
// user when the suite runs as root (they refuse root); registered once per tenant through the
// official client (advancedConfigs pgPort / pgSocketDir). pgStop (called by runSuite) stops it
// and removes the directory. Every wait is bounded (pg_ctl -w -t 60).
package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

const pgBin = "/usr/lib/postgresql/15/bin"
const pgPort = 55293

var (
	pgOnce    sync.Once
	pgErr     error
	pgRoot    string
	pgMu      sync.Mutex
	pgTenants = map[string]int64{} // tenant -> the instance object's id
)

// pgCmd: a PostgreSQL tool run as postgres when we are root.
func pgCmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(pgBin, name), args...)
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
	}
	return c
}

func pgStart() error {
	dir, err := os.MkdirTemp("", "coffer-conformance-pg-")
	if err != nil {
		return err
	}
	pgRoot = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := pgCmd("initdb", "-D", data, "-A", "trust", "-U", "postgres").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-c port=%d -c listen_addresses='' -c unix_socket_directories=%s -c wal_level=replica "+
		"-c max_wal_senders=10 -c max_replication_slots=10", pgPort, dir)
	if out, err := pgCmd("pg_ctl", "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "log"), "-o", opts,
		"start").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// pgStop: stops the suite's server (if it was started) and removes its directory.
func pgStop() {
	if pgRoot == "" {
		return
	}
	_ = pgCmd("pg_ctl", "-D", filepath.Join(pgRoot, "data"), "-w", "-t", "60", "-m", "fast", "stop").Run()
	os.RemoveAll(pgRoot)
}

// sqlInstance: the id of the suite server's instance object in tenant (registered on first use).
func sqlInstance(t *testing.T, tenant string) int64 {
	t.Helper()
	pgOnce.Do(func() { pgErr = pgStart() })
	if pgErr != nil {
		t.Fatalf("the suite's PostgreSQL: %v", pgErr)
	}
	pgMu.Lock()
	defer pgMu.Unlock()
	if id, ok := pgTenants[tenant]; ok {
		return id
	}
	res, resp, err := svc.RegisterProtectionSource(&backuprecoveryv1.RegisterProtectionSourceOptions{
		XIBMTenantID:   core.StringPtr(tenant),
		Environment:    core.StringPtr("kSQL"),
		Name:           core.StringPtr("pg"),
		PhysicalParams: &backuprecoveryv1.PhysicalSourceRegistrationParams{Endpoint: core.StringPtr("localhost")},
		AdvancedConfigs: []backuprecoveryv1.KeyValuePair{
			{Key: core.StringPtr("pgPort"), Value: core.StringPtr(strconv.Itoa(pgPort))},
			{Key: core.StringPtr("pgSocketDir"), Value: core.StringPtr(pgRoot)},
		},
	})
	wantStatus(t, resp, err, 201)
	id := findInstance(res.SourceInfo)
	if id == 0 {
		t.Fatalf("the kSQL registration has no kInstance object: %+v", res.SourceInfo)
	}
	pgTenants[tenant] = id
	return id
}

func findInstance(o *backuprecoveryv1.Object) int64 {
	if o == nil {
		return 0
	}
	if o.ObjectType != nil && *o.ObjectType == "kInstance" && o.ID != nil {
		return *o.ID
	}
	for i := range o.ChildObjects {
		if id := findInstanceIn(&o.ChildObjects[i]); id != 0 {
			return id
		}
	}
	return 0
}

func findInstanceIn(o *backuprecoveryv1.ObjectSummary) int64 {
	if o.ObjectType != nil && *o.ObjectType == "kInstance" && o.ID != nil {
		return *o.ID
	}
	for i := range o.ChildObjects {
		if id := findInstanceIn(&o.ChildObjects[i]); id != 0 {
			return id
		}
	}
	return 0
}
