// policies_test.go: protection policies through the official client: CreateProtectionPolicy,
// GetProtectionPolicies, GetProtectionPolicyByID, UpdateProtectionPolicy and DeleteProtectionPolicy
// answer with the status codes the SDK expects, what it decodes carries the values sent, bad input
// is refused with a message naming the field (and changes nothing), stale updates are 412, a policy
// in use cannot be deleted (409), and another tenant never sees a policy.
package conformance

import (
	"regexp"
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

var resourceIDPattern = regexp.MustCompile(`^\d+:\d+:\d+$`)

// hourlyBackupPolicy: incremental every freq hours, kept retentionDays days.
func hourlyBackupPolicy(freq, retentionDays int64) *backuprecoveryv1.BackupPolicy {
	return &backuprecoveryv1.BackupPolicy{
		Regular: &backuprecoveryv1.RegularBackupPolicy{
			Incremental: &backuprecoveryv1.IncrementalBackupPolicy{
				Schedule: &backuprecoveryv1.IncrementalSchedule{
					Unit:         core.StringPtr("Hours"),
					HourSchedule: &backuprecoveryv1.HourSchedule{Frequency: core.Int64Ptr(freq)},
				},
			},
			Retention: &backuprecoveryv1.Retention{Unit: core.StringPtr("Days"), Duration: core.Int64Ptr(retentionDays)},
		},
	}
}

// createPolicy makes a simple policy in tenant and returns what the SDK decoded.
func createPolicy(t *testing.T, tenant, name string) *backuprecoveryv1.ProtectionPolicyResponse {
	t.Helper()
	res, resp, err := svc.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenant),
		Name:         core.StringPtr(name),
		BackupPolicy: hourlyBackupPolicy(6, 14),
		Description:  core.StringPtr("conformance"),
	})
	wantStatus(t, resp, err, 201)
	if res.ID == nil || !resourceIDPattern.MatchString(*res.ID) {
		t.Fatalf("policy id: want clusterId:incarnationId:n, got %v", res.ID)
	}
	return res
}

// policyNamed: the tenant's policies named name, as the SDK decodes the list.
func policyNamed(t *testing.T, tenant, name string) []backuprecoveryv1.ProtectionPolicyResponse {
	t.Helper()
	res, resp, err := svc.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenant),
		PolicyNames:  []string{name},
	})
	wantStatus(t, resp, err, 200)
	return res.Policies
}

func TestCreateProtectionPolicy(t *testing.T) {
	name := uniqueName(t, "policy")
	opts := &backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Name:         core.StringPtr(name),
		BackupPolicy: &backuprecoveryv1.BackupPolicy{
			Regular: &backuprecoveryv1.RegularBackupPolicy{
				Incremental: &backuprecoveryv1.IncrementalBackupPolicy{
					Schedule: &backuprecoveryv1.IncrementalSchedule{
						Unit:         core.StringPtr("Weeks"),
						WeekSchedule: &backuprecoveryv1.WeekSchedule{DayOfWeek: []string{"Monday", "Thursday"}},
					},
				},
				Full: &backuprecoveryv1.FullBackupPolicy{
					Schedule: &backuprecoveryv1.FullSchedule{
						Unit:          core.StringPtr("Months"),
						MonthSchedule: &backuprecoveryv1.MonthSchedule{DayOfWeek: []string{"Sunday"}, WeekOfMonth: core.StringPtr("First")},
					},
				},
				Retention: &backuprecoveryv1.Retention{Unit: core.StringPtr("Weeks"), Duration: core.Int64Ptr(4)},
			},
		},
		Description: core.StringPtr("weekly with a monthly full"),
		BlackoutWindow: []backuprecoveryv1.BlackoutWindow{{
			Day:       core.StringPtr("Sunday"),
			StartTime: &backuprecoveryv1.TimeOfDay{Hour: core.Int64Ptr(1), Minute: core.Int64Ptr(0)},
			EndTime:   &backuprecoveryv1.TimeOfDay{Hour: core.Int64Ptr(3), Minute: core.Int64Ptr(30)},
		}},
		ExtendedRetention: []backuprecoveryv1.ExtendedRetentionPolicy{{
			Schedule:  &backuprecoveryv1.ExtendedRetentionSchedule{Unit: core.StringPtr("Months"), Frequency: core.Int64Ptr(1)},
			Retention: &backuprecoveryv1.Retention{Unit: core.StringPtr("Years"), Duration: core.Int64Ptr(1)},
		}},
		RetryOptions: &backuprecoveryv1.RetryOptions{Retries: core.Int64Ptr(3), RetryIntervalMins: core.Int64Ptr(10)},
		DataLock:     core.StringPtr("Administrative"),
		Version:      core.Int64Ptr(1),
	}
	res, resp, err := svc.CreateProtectionPolicy(opts)
	wantStatus(t, resp, err, 201)
	if res.ID == nil || !resourceIDPattern.MatchString(*res.ID) {
		t.Fatalf("id: want clusterId:incarnationId:n, got %v", res.ID)
	}
	if *res.Name != name || *res.Description != "weekly with a monthly full" || *res.DataLock != "Administrative" ||
		*res.Version != 1 {
		t.Fatalf("decoded policy does not carry the values sent: %+v", res)
	}
	inc := res.BackupPolicy.Regular.Incremental.Schedule
	if *inc.Unit != "Weeks" || strings.Join(inc.WeekSchedule.DayOfWeek, ",") != "Monday,Thursday" {
		t.Fatalf("incremental schedule: %+v", inc)
	}
	full := res.BackupPolicy.Regular.Full.Schedule
	if *full.Unit != "Months" || *full.MonthSchedule.WeekOfMonth != "First" || full.MonthSchedule.DayOfWeek[0] != "Sunday" {
		t.Fatalf("full schedule: %+v", full)
	}
	if r := res.BackupPolicy.Regular.Retention; *r.Unit != "Weeks" || *r.Duration != 4 {
		t.Fatalf("retention: %+v", r)
	}
	if len(res.BlackoutWindow) != 1 || *res.BlackoutWindow[0].Day != "Sunday" || *res.BlackoutWindow[0].EndTime.Minute != 30 {
		t.Fatalf("blackout windows: %+v", res.BlackoutWindow)
	}
	if len(res.ExtendedRetention) != 1 || *res.ExtendedRetention[0].Retention.Unit != "Years" {
		t.Fatalf("extended retention: %+v", res.ExtendedRetention)
	}
	if *res.RetryOptions.Retries != 3 || *res.RetryOptions.RetryIntervalMins != 10 {
		t.Fatalf("retry options: %+v", res.RetryOptions)
	}
	if res.LastModificationTimeUsecs == nil || *res.LastModificationTimeUsecs <= 0 {
		t.Fatalf("lastModificationTimeUsecs: %v", res.LastModificationTimeUsecs)
	}

	// The same name again in the same tenant is a conflict.
	opts.Description = core.StringPtr("again")
	_, resp, err = svc.CreateProtectionPolicy(opts)
	if msg := wantError(t, resp, err, 409); !strings.Contains(msg, name) {
		t.Fatalf("conflict message does not name the policy: %q", msg)
	}
}

func TestCreateProtectionPolicyBadInput(t *testing.T) {
	name := uniqueName(t, "bad-policy")
	bp := hourlyBackupPolicy(6, 14)
	bp.Regular.Retention.Duration = core.Int64Ptr(0)
	_, resp, err := svc.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA), Name: core.StringPtr(name), BackupPolicy: bp,
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "backupPolicy.regular.retention.duration") {
		t.Fatalf("message does not name the field: %q", msg)
	}

	bp = hourlyBackupPolicy(6, 14)
	bp.Regular.Incremental.Schedule.Unit = core.StringPtr("Seconds")
	_, resp, err = svc.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA), Name: core.StringPtr(name), BackupPolicy: bp,
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "backupPolicy.regular.incremental.schedule.unit") {
		t.Fatalf("message does not name the field: %q", msg)
	}

	bp = hourlyBackupPolicy(6, 14)
	bp.Regular.Incremental.Schedule.HourSchedule = nil
	_, resp, err = svc.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA), Name: core.StringPtr(name), BackupPolicy: bp,
		RetryOptions: &backuprecoveryv1.RetryOptions{Retries: core.Int64Ptr(1)},
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "hourSchedule") {
		t.Fatalf("message does not name the field: %q", msg)
	}

	raw := adminCall(t, "POST", "/data-protect/policies", tenantA, `{"name": "`+name+`", "backupPolicy": `)
	if raw.Status != 400 || !strings.Contains(raw.Message(), "not valid JSON") {
		t.Fatalf("malformed JSON: want 400 with a message, got %d %q", raw.Status, raw.Body)
	}
	raw = adminCall(t, "POST", "/data-protect/policies", tenantA, map[string]any{"name": name, "backupPolicy": "daily"})
	if raw.Status != 400 || !strings.Contains(raw.Message(), "backupPolicy") {
		t.Fatalf("wrong type: want 400 naming backupPolicy, got %d %q", raw.Status, raw.Body)
	}
	if got := policyNamed(t, tenantA, name); len(got) != 0 {
		t.Fatalf("refused creates left policies behind: %+v", got)
	}
}

func TestGetProtectionPolicies(t *testing.T) {
	a := createPolicy(t, tenantA, uniqueName(t, "list-a"))
	b := createPolicy(t, tenantA, uniqueName(t, "list-b"))
	res, resp, err := svc.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		PolicyNames:  []string{*a.Name, *b.Name},
	})
	wantStatus(t, resp, err, 200)
	if len(res.Policies) != 2 || *res.Policies[0].ID != *a.ID || *res.Policies[1].ID != *b.ID {
		t.Fatalf("list by names: want [%s %s] in creation order, got %+v", *a.ID, *b.ID, res.Policies)
	}
	if *res.Policies[1].Name != *b.Name || *res.Policies[1].BackupPolicy.Regular.Retention.Duration != 14 {
		t.Fatalf("listed policy does not carry the values sent: %+v", res.Policies[1])
	}

	res, resp, err = svc.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Ids:          []string{*b.ID},
		Types:        []string{"Regular"},
		IncludeStats: core.BoolPtr(true),
	})
	wantStatus(t, resp, err, 200)
	if len(res.Policies) != 1 || *res.Policies[0].ID != *b.ID {
		t.Fatalf("list by id: %+v", res.Policies)
	}
	if p := res.Policies[0]; p.NumProtectionGroups == nil || *p.NumProtectionGroups != 0 ||
		p.NumProtectedObjects == nil || *p.NumProtectedObjects != 0 {
		t.Fatalf("includeStats: want 0 groups and 0 objects, got %v %v", p.NumProtectionGroups, p.NumProtectedObjects)
	}

	// Another tenant sees none of them.
	res, resp, err = svc.GetProtectionPolicies(&backuprecoveryv1.GetProtectionPoliciesOptions{
		XIBMTenantID: core.StringPtr(tenantB),
		Ids:          []string{*a.ID, *b.ID},
	})
	wantStatus(t, resp, err, 200)
	if len(res.Policies) != 0 {
		t.Fatalf("tenant B sees tenant A's policies: %+v", res.Policies)
	}
}

func TestGetProtectionPolicyByID(t *testing.T) {
	p := createPolicy(t, tenantA, uniqueName(t, "byid"))
	res, resp, err := svc.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: p.ID,
	})
	wantStatus(t, resp, err, 200)
	if *res.ID != *p.ID || *res.Name != *p.Name || *res.Description != "conformance" ||
		*res.BackupPolicy.Regular.Incremental.Schedule.HourSchedule.Frequency != 6 ||
		*res.LastModificationTimeUsecs != *p.LastModificationTimeUsecs {
		t.Fatalf("get by id does not carry the values sent: %+v", res)
	}

	_, resp, err = svc.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: p.ID,
	})
	wantError(t, resp, err, 404)
	_, resp, err = svc.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: core.StringPtr("1:1:987654321"),
	})
	wantError(t, resp, err, 404)
	_, resp, err = svc.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: core.StringPtr("not-a-policy-id"),
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "id") {
		t.Fatalf("malformed id message: %q", msg)
	}
}

func TestUpdateProtectionPolicy(t *testing.T) {
	p := createPolicy(t, tenantA, uniqueName(t, "update"))
	opts := &backuprecoveryv1.UpdateProtectionPolicyOptions{
		XIBMTenantID:              core.StringPtr(tenantA),
		ID:                        p.ID,
		Name:                      p.Name,
		BackupPolicy:              hourlyBackupPolicy(2, 30),
		Description:               core.StringPtr("updated"),
		RetryOptions:              &backuprecoveryv1.RetryOptions{Retries: core.Int64Ptr(5), RetryIntervalMins: core.Int64Ptr(1)},
		LastModificationTimeUsecs: p.LastModificationTimeUsecs,
	}
	res, resp, err := svc.UpdateProtectionPolicy(opts)
	wantStatus(t, resp, err, 200)
	if *res.ID != *p.ID || *res.Description != "updated" || *res.RetryOptions.Retries != 5 ||
		*res.BackupPolicy.Regular.Incremental.Schedule.HourSchedule.Frequency != 2 ||
		*res.BackupPolicy.Regular.Retention.Duration != 30 {
		t.Fatalf("update does not carry the values sent: %+v", res)
	}
	if *res.LastModificationTimeUsecs <= *p.LastModificationTimeUsecs {
		t.Fatalf("lastModificationTimeUsecs did not move: %d -> %d", *p.LastModificationTimeUsecs, *res.LastModificationTimeUsecs)
	}

	// The old timestamp is stale now.
	opts.Description = core.StringPtr("stale")
	_, resp, err = svc.UpdateProtectionPolicy(opts)
	if msg := wantError(t, resp, err, 412); !strings.Contains(msg, "lastModificationTimeUsecs") {
		t.Fatalf("stale message: %q", msg)
	}
	got, resp, err := svc.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: p.ID,
	})
	wantStatus(t, resp, err, 200)
	if *got.Description != "updated" {
		t.Fatalf("a stale update changed the policy: %q", *got.Description)
	}

	// Another tenant cannot update it.
	opts.XIBMTenantID = core.StringPtr(tenantB)
	opts.LastModificationTimeUsecs = nil
	_, resp, err = svc.UpdateProtectionPolicy(opts)
	wantError(t, resp, err, 404)
}

func TestDeleteProtectionPolicy(t *testing.T) {
	p := createPolicy(t, tenantA, uniqueName(t, "delete"))
	resp, err := svc.DeleteProtectionPolicy(&backuprecoveryv1.DeleteProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantB), ID: p.ID,
	})
	wantError(t, resp, err, 404)
	resp, err = svc.DeleteProtectionPolicy(&backuprecoveryv1.DeleteProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: p.ID,
	})
	wantStatus(t, resp, err, 204)
	_, resp, err = svc.GetProtectionPolicyByID(&backuprecoveryv1.GetProtectionPolicyByIdOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: p.ID,
	})
	wantError(t, resp, err, 404)

	// A policy a protection group uses cannot be deleted.
	used := createPolicy(t, tenantA, uniqueName(t, "used"))
	g := createSQLGroup(t, tenantA, uniqueName(t, "user-of-policy"), *used.ID)
	resp, err = svc.DeleteProtectionPolicy(&backuprecoveryv1.DeleteProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: used.ID,
	})
	if msg := wantError(t, resp, err, 409); !strings.Contains(msg, "protection group") {
		t.Fatalf("in-use message: %q", msg)
	}
	if got := policyNamed(t, tenantA, *used.Name); len(got) != 1 {
		t.Fatalf("the refused delete removed the policy")
	}
	resp, err = svc.DeleteProtectionGroup(&backuprecoveryv1.DeleteProtectionGroupOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: g.ID,
	})
	wantStatus(t, resp, err, 204)
	resp, err = svc.DeleteProtectionPolicy(&backuprecoveryv1.DeleteProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA), ID: used.ID,
	})
	wantStatus(t, resp, err, 204)
}

// TestCreateProtectionPolicyAsTheSDKExamplesSend: the official client's own examples fill every
// sub-schedule whatever the unit (a monthSchedule with both dayOfMonth and dayOfWeek beside unit
// Minutes). Coffer takes the policy, schedules by the unit, and echoes only the sub-schedule in use.
func TestCreateProtectionPolicyAsTheSDKExamplesSend(t *testing.T) {
	name := uniqueName(t, "policy-sdk-example")
	res, resp, err := svc.CreateProtectionPolicy(&backuprecoveryv1.CreateProtectionPolicyOptions{
		XIBMTenantID: core.StringPtr(tenantA),
		Name:         core.StringPtr(name),
		BackupPolicy: &backuprecoveryv1.BackupPolicy{
			Regular: &backuprecoveryv1.RegularBackupPolicy{
				Incremental: &backuprecoveryv1.IncrementalBackupPolicy{
					Schedule: &backuprecoveryv1.IncrementalSchedule{
						Unit:           core.StringPtr("Minutes"),
						MinuteSchedule: &backuprecoveryv1.MinuteSchedule{Frequency: core.Int64Ptr(30)},
						HourSchedule:   &backuprecoveryv1.HourSchedule{Frequency: core.Int64Ptr(1)},
						DaySchedule:    &backuprecoveryv1.DaySchedule{Frequency: core.Int64Ptr(1)},
						WeekSchedule:   &backuprecoveryv1.WeekSchedule{DayOfWeek: []string{"Sunday"}},
						MonthSchedule: &backuprecoveryv1.MonthSchedule{DayOfWeek: []string{"Sunday"},
							WeekOfMonth: core.StringPtr("First"), DayOfMonth: core.Int64Ptr(10)},
						YearSchedule: &backuprecoveryv1.YearSchedule{DayOfYear: core.StringPtr("First")},
					},
				},
				Retention: &backuprecoveryv1.Retention{Unit: core.StringPtr("Days"), Duration: core.Int64Ptr(7)},
			},
		},
	})
	wantStatus(t, resp, err, 201)
	s := res.BackupPolicy.Regular.Incremental.Schedule
	if *s.Unit != "Minutes" || s.MinuteSchedule == nil || *s.MinuteSchedule.Frequency != 30 {
		t.Fatalf("schedule echoed: %+v", s)
	}
	if s.MonthSchedule != nil || s.HourSchedule != nil || s.YearSchedule != nil {
		t.Fatalf("unused sub-schedules echoed: month %v hour %v year %v", s.MonthSchedule, s.HourSchedule, s.YearSchedule)
	}
}
