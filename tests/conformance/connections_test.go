// connections_test.go: data-source connections and connectors through the official client:
// CreateDataSourceConnection, GetDataSourceConnections, PatchDataSourceConnection,
// DeleteDataSourceConnection, GenerateDataSourceConnectionRegistrationToken, GetDataSourceConnectors,
// GetConnectorMetadata, PatchDataSourceConnector and DeleteDataSourceConnector answer with the status
// codes the SDK expects, and what it decodes carries the values sent.
package conformance

import (
	"regexp"
	"strings"
	"testing"

	"github.com/IBM/go-sdk-core/v5/core"
	"github.com/IBM/ibm-backup-recovery-sdk-go/backuprecoveryv1"
)

var tokenShape = regexp.MustCompile(`^[0-9a-f]{64}$`)

func createConnection(t *testing.T, tenant, name string) *backuprecoveryv1.DataSourceConnection {
	t.Helper()
	c, resp, err := svc.CreateDataSourceConnection(&backuprecoveryv1.CreateDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenant), ConnectionName: core.StringPtr(name),
	})
	wantStatus(t, resp, err, 201)
	return c
}

func TestCreateAndGetDataSourceConnections(t *testing.T) {
	name := uniqueName(t, "conn")
	c := createConnection(t, tenantA, name)
	if c.ConnectionID == nil || *c.ConnectionID == "" || *c.ConnectionName != name || *c.TenantID != tenantA {
		t.Fatalf("created connection decoded wrong: %+v", c)
	}
	if c.ConnectorIds == nil || len(c.ConnectorIds) != 0 {
		t.Fatalf("a new connection has no connectors, got %v", c.ConnectorIds)
	}
	list, resp, err := svc.GetDataSourceConnections(&backuprecoveryv1.GetDataSourceConnectionsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionIds: []string{*c.ConnectionID},
	})
	wantStatus(t, resp, err, 200)
	if len(list.Connections) != 1 || *list.Connections[0].ConnectionName != name {
		t.Fatalf("want the connection by id, got %+v", list.Connections)
	}
	byName, resp, err := svc.GetDataSourceConnections(&backuprecoveryv1.GetDataSourceConnectionsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionNames: []string{name},
	})
	wantStatus(t, resp, err, 200)
	if len(byName.Connections) != 1 || *byName.Connections[0].ConnectionID != *c.ConnectionID {
		t.Fatalf("want the connection by name, got %+v", byName.Connections)
	}
	// Names are unique within a tenant, not across tenants.
	_, resp, err = svc.CreateDataSourceConnection(&backuprecoveryv1.CreateDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionName: core.StringPtr(name),
	})
	if msg := wantError(t, resp, err, 409); !strings.Contains(msg, "connectionName") {
		t.Fatalf("409 message %q does not name the field", msg)
	}
	other := createConnection(t, tenantB, name)
	if *other.ConnectionID == *c.ConnectionID {
		t.Fatalf("two tenants got the same connection id")
	}
	bList, resp, err := svc.GetDataSourceConnections(&backuprecoveryv1.GetDataSourceConnectionsOptions{
		XIBMTenantID: core.StringPtr(tenantB), ConnectionIds: []string{*c.ConnectionID},
	})
	wantStatus(t, resp, err, 200)
	if len(bList.Connections) != 0 {
		t.Fatalf("tenant B sees tenant A's connection")
	}
	// An empty name is refused by the server with the field named (the SDK checks only presence).
	_, resp, err = svc.CreateDataSourceConnection(&backuprecoveryv1.CreateDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionName: core.StringPtr(" "),
	})
	if msg := wantError(t, resp, err, 400); !strings.Contains(msg, "connectionName") {
		t.Fatalf("400 message %q does not name the field", msg)
	}
}

func TestPatchAndDeleteDataSourceConnection(t *testing.T) {
	c := createConnection(t, tenantA, uniqueName(t, "conn"))
	newName := uniqueName(t, "renamed")
	p, resp, err := svc.PatchDataSourceConnection(&backuprecoveryv1.PatchDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID, ConnectionName: core.StringPtr(newName),
	})
	wantStatus(t, resp, err, 200)
	if *p.ConnectionID != *c.ConnectionID || *p.ConnectionName != newName {
		t.Fatalf("patch not applied: %+v", p)
	}
	_, resp, err = svc.PatchDataSourceConnection(&backuprecoveryv1.PatchDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenantB), ConnectionID: c.ConnectionID, ConnectionName: core.StringPtr("x"),
	})
	wantError(t, resp, err, 404)
	resp, err = svc.DeleteDataSourceConnection(&backuprecoveryv1.DeleteDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
	})
	wantStatus(t, resp, err, 204)
	resp, err = svc.DeleteDataSourceConnection(&backuprecoveryv1.DeleteDataSourceConnectionOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
	})
	if msg := wantError(t, resp, err, 404); msg == "" {
		t.Fatalf("404 without a message")
	}
	list, resp, err := svc.GetDataSourceConnections(&backuprecoveryv1.GetDataSourceConnectionsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionNames: []string{newName},
	})
	wantStatus(t, resp, err, 200)
	if len(list.Connections) != 0 {
		t.Fatalf("deleted connection still listed")
	}
}

func TestGenerateDataSourceConnectionRegistrationToken(t *testing.T) {
	c := createConnection(t, tenantA, uniqueName(t, "conn"))
	opts := &backuprecoveryv1.GenerateDataSourceConnectionRegistrationTokenOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
	}
	tok1, resp, err := svc.GenerateDataSourceConnectionRegistrationToken(opts)
	wantStatus(t, resp, err, 200)
	if tok1 == nil || !tokenShape.MatchString(*tok1) {
		t.Fatalf("token %v is not 64 lower-case hex digits", tok1)
	}
	tok2, resp, err := svc.GenerateDataSourceConnectionRegistrationToken(opts)
	wantStatus(t, resp, err, 200)
	if *tok2 == *tok1 {
		t.Fatalf("a second token equals the first")
	}
	_, resp, err = svc.GenerateDataSourceConnectionRegistrationToken(
		&backuprecoveryv1.GenerateDataSourceConnectionRegistrationTokenOptions{
			XIBMTenantID: core.StringPtr(tenantB), ConnectionID: c.ConnectionID,
		})
	wantError(t, resp, err, 404)
}

func TestDataSourceConnectors(t *testing.T) {
	c := createConnection(t, tenantA, uniqueName(t, "conn"))
	list, resp, err := svc.GetDataSourceConnectors(&backuprecoveryv1.GetDataSourceConnectorsOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectionID: c.ConnectionID,
	})
	wantStatus(t, resp, err, 200)
	if len(list.Connectors) != 0 {
		t.Fatalf("no agent registered, yet connectors are listed: %+v", list.Connectors)
	}
	md, resp, err := svc.GetConnectorMetadata(&backuprecoveryv1.GetConnectorMetadataOptions{
		XIBMTenantID: core.StringPtr(tenantA),
	})
	wantStatus(t, resp, err, 200)
	if md.ConnectorImageMetadata == nil || md.ConnectorImageMetadata.ConnectorImageFileList == nil {
		t.Fatalf("metadata without connectorImageMetadata.connectorImageFileList: %+v", md)
	}
	_, resp, err = svc.PatchDataSourceConnector(&backuprecoveryv1.PatchDataSourceConnectorOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectorID: core.StringPtr("no-such-connector"),
		ConnectorName: core.StringPtr("x"),
	})
	if msg := wantError(t, resp, err, 404); !strings.Contains(msg, "no-such-connector") {
		t.Fatalf("404 message %q does not name the connector", msg)
	}
	resp, err = svc.DeleteDataSourceConnector(&backuprecoveryv1.DeleteDataSourceConnectorOptions{
		XIBMTenantID: core.StringPtr(tenantA), ConnectorID: core.StringPtr("no-such-connector"),
	})
	if msg := wantError(t, resp, err, 404); msg == "" {
		t.Fatalf("404 without a message")
	}
}
