package azure

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
)

// Event schemas an Event Grid subscription can deliver in.
const (
	SchemaEventGrid   = "EventGridSchema"
	SchemaCloudEvents = "CloudEventSchemaV1_0"
)

// Actor types, from the idtyp claim or, without it, from the other claims.
const (
	ActorUser             = "user"
	ActorServicePrincipal = "servicePrincipal"
	ActorManagedIdentity  = "managedIdentity"
)

// Claim names Vigil reads from an ARM event's data.claims: the claims of
// the caller's Microsoft Entra token.
const (
	claimUPN      = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	claimName     = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	claimObjectID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	claimTenantID = "http://schemas.microsoft.com/identity/claims/tenantid"
)

// egResourcesPrefix starts the type of every event Azure Resource Manager
// publishes for a subscription or resource group system topic.
const egResourcesPrefix = "Microsoft.Resources.Resource"

// Event is one Azure Resource Manager event as Event Grid delivers it to a
// Storage Queue, in either schema.
type Event struct {
	// ID is the event's id (Event Grid schema id, CloudEvents id).
	ID string
	// Type is the event type: Microsoft.Resources.ResourceWriteSuccess,
	// ResourceDeleteSuccess, ResourceActionSuccess, … or, for an event
	// from another source, its own type.
	Type string
	// Schema is SchemaEventGrid or SchemaCloudEvents.
	Schema string
	// Subject is the event's subject: for ARM events, the resource id.
	Subject string
	Time    time.Time
	// Subscription and Tenant are data.subscriptionId and data.tenantId.
	Subscription, Tenant string
	// ResourceURI is the id of the resource the operation targeted.
	ResourceURI string
	// Operation is data.operationName: Microsoft.Storage/storageAccounts/write.
	Operation string
	// Provider is data.resourceProvider: Microsoft.Storage.
	Provider string
	// Status is data.status: Succeeded for the *Success event types.
	Status        string
	CorrelationID string
	// Action and Scope are data.authorization's: the RBAC action checked
	// and the scope it was granted at.
	Action, Scope string
	// Method and URL are the ARM request's (data.httpRequest).
	Method, URL string
	Actor       Actor
	// ReadOnly is set for actions that read (listKeys, listAccountSas,
	// …): Event Grid reports every POST as an action, but these change
	// nothing.
	ReadOnly bool
	// Failed is set for the *Failure and *Cancel event types and for a
	// status other than Succeeded: the operation changed nothing.
	Failed bool
}

// Actor is who made the ARM request an Event records, from its claims.
type Actor struct {
	// Name is the caller's UPN (users) or name claim, if any.
	Name string
	// ObjectID is the principal's Microsoft Entra object id.
	ObjectID string
	// AppID is the application (client) id of the token: the service
	// principal's, or the client the user signed in with.
	AppID    string
	TenantID string
	// Type is ActorUser, ActorServicePrincipal, ActorManagedIdentity or
	// "" when the claims do not say.
	Type string
	// ManagedIdentity is the resource id of a managed identity (the
	// xms_mirid claim).
	ManagedIdentity string
	// SourceIP is the caller's address (ipaddr claim, else the request's
	// clientIpAddress).
	SourceIP string
}

// Principal returns the best single name of the actor: the UPN or name
// for a user, the managed identity's resource id, else the object id,
// else the app id.
func (a Actor) Principal() string {
	for _, s := range []string{a.Name, a.ManagedIdentity, a.ObjectID, a.AppID} {
		if s != "" {
			return s
		}
	}
	return ""
}

// Cause returns the event as the cause of a recorded change.
func (e Event) Cause() vigil.Cause {
	return vigil.Cause{EventID: e.ID, EventSource: e.Provider, EventName: e.Operation, EventTime: e.Time,
		Actor: vigil.Actor{ARN: e.Actor.Principal(), Type: e.Actor.Type, SourceIP: e.Actor.SourceIP}}
}

// egEnvelope holds the top-level fields of both schemas.
type egEnvelope struct {
	// Event Grid schema.
	EventType *string `json:"eventType"`
	EventTime string  `json:"eventTime"`
	Topic     string  `json:"topic"`
	// CloudEvents 1.0.
	SpecVersion *string `json:"specversion"`
	Type        string  `json:"type"`
	Source      string  `json:"source"`
	Time        string  `json:"time"`
	// Both.
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// egData is the data of an ARM event. Claims, authorization and
// httpRequest are objects; older events carried them as JSON text, which
// egObject accepts too.
type egData struct {
	Authorization    json.RawMessage `json:"authorization"`
	Claims           json.RawMessage `json:"claims"`
	CorrelationID    string          `json:"correlationId"`
	HTTPRequest      json.RawMessage `json:"httpRequest"`
	ResourceProvider string          `json:"resourceProvider"`
	ResourceURI      string          `json:"resourceUri"`
	OperationName    string          `json:"operationName"`
	Status           string          `json:"status"`
	SubscriptionID   string          `json:"subscriptionId"`
	TenantID         string          `json:"tenantId"`
}

// ParseEvent reads an Event Grid event as a Storage Queue message carries
// it: the event JSON (Event Grid or CloudEvents 1.0 schema), as text or
// base64-encoded (Event Grid base64-encodes what it writes to a queue;
// older deliveries and other writers put the JSON as is). A one-element
// JSON array is accepted too. Errors name what is wrong with the message.
func ParseEvent(body []byte) (Event, error) {
	raw, err := egJSON(body)
	if err != nil {
		return Event{}, err
	}
	var env egEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Event{}, fmt.Errorf("parse event: %w", err)
	}
	var e Event
	var when string
	switch {
	case env.SpecVersion != nil:
		if *env.SpecVersion != "1.0" {
			return Event{}, fmt.Errorf("cloud event specversion %q is not 1.0", *env.SpecVersion)
		}
		if env.Type == "" {
			return Event{}, errors.New("cloud event has no type")
		}
		if env.Source == "" {
			return Event{}, errors.New("cloud event has no source")
		}
		e = Event{Schema: SchemaCloudEvents, Type: env.Type}
		when = env.Time
		if when == "" {
			return Event{}, errors.New("cloud event has no time")
		}
	case env.EventType != nil:
		if *env.EventType == "" {
			return Event{}, errors.New("event has an empty eventType")
		}
		e = Event{Schema: SchemaEventGrid, Type: *env.EventType}
		when = env.EventTime
		if when == "" {
			return Event{}, errors.New("event has no eventTime")
		}
	default:
		return Event{}, errors.New("message is not an Event Grid event: no eventType (Event Grid schema) nor specversion (CloudEvents)")
	}
	if env.ID == "" {
		return Event{}, errors.New("event has no id")
	}
	e.ID, e.Subject = env.ID, env.Subject
	if e.Time, err = time.Parse(time.RFC3339, when); err != nil {
		return Event{}, fmt.Errorf("event %s time %q is not RFC 3339", e.ID, when)
	}
	if !strings.HasPrefix(e.Type, egResourcesPrefix) {
		// Another source's event (a blob created, a key near expiry): a
		// well-formed event Vigil does not map; Targets says so.
		return e, nil
	}
	if d := bytes.TrimSpace(env.Data); len(d) == 0 || bytes.Equal(d, []byte("null")) {
		return Event{}, fmt.Errorf("event %s (%s) has no data", e.ID, e.Type)
	}
	var d egData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		return Event{}, fmt.Errorf("event %s (%s) data: %w", e.ID, e.Type, err)
	}
	e.ResourceURI = d.ResourceURI
	if e.ResourceURI == "" {
		e.ResourceURI = e.Subject
	}
	if e.ResourceURI == "" {
		return Event{}, fmt.Errorf("event %s (%s) has no data.resourceUri nor subject", e.ID, e.Type)
	}
	if !strings.HasPrefix(strings.ToLower(e.ResourceURI), "/subscriptions/") {
		return Event{}, fmt.Errorf("event %s data.resourceUri %q is not an ARM resource id (/subscriptions/…)", e.ID, e.ResourceURI)
	}
	if d.OperationName == "" {
		return Event{}, fmt.Errorf("event %s (%s) has no data.operationName", e.ID, e.Type)
	}
	e.Operation, e.Provider, e.Status, e.CorrelationID = d.OperationName, d.ResourceProvider, d.Status, d.CorrelationID
	e.Subscription, e.Tenant = strings.ToLower(d.SubscriptionID), d.TenantID
	if e.Subscription == "" {
		e.Subscription = strings.ToLower(egSegmentAfter(e.ResourceURI, "subscriptions"))
	}
	if e.Provider == "" {
		e.Provider, _, _ = strings.Cut(e.Operation, "/")
	}

	claims, err := egStrings(d.Claims)
	if err != nil {
		return Event{}, fmt.Errorf("event %s data.claims: %w", e.ID, err)
	}
	var auth struct {
		Scope, Action string
		Evidence      struct{ PrincipalID, PrincipalType string }
	}
	if err := egObject(d.Authorization, &auth); err != nil {
		return Event{}, fmt.Errorf("event %s data.authorization: %w", e.ID, err)
	}
	var req struct{ ClientIPAddress, Method, URL string }
	if err := egObject(d.HTTPRequest, &req); err != nil {
		return Event{}, fmt.Errorf("event %s data.httpRequest: %w", e.ID, err)
	}
	e.Action, e.Scope, e.Method, e.URL = auth.Action, auth.Scope, req.Method, req.URL
	e.Actor = egActor(claims, auth.Evidence.PrincipalID, auth.Evidence.PrincipalType, req.ClientIPAddress)
	if e.Actor.TenantID == "" {
		e.Actor.TenantID = e.Tenant
	}

	kind := strings.TrimPrefix(e.Type, egResourcesPrefix)
	switch {
	case strings.HasSuffix(kind, "Failure"), strings.HasSuffix(kind, "Cancel"):
		e.Failed = true
	case e.Status != "" && !strings.EqualFold(e.Status, "Succeeded"):
		e.Failed = true
	}
	if kind == "ActionSuccess" || kind == "ActionFailure" || kind == "ActionCancel" {
		e.ReadOnly = egReadAction(e.Operation)
	}
	return e, nil
}

// egJSON returns the event JSON of a queue message: the body itself when
// it is JSON, else the body base64-decoded. A one-element array yields its
// element.
func egJSON(body []byte) ([]byte, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, errors.New("message is empty")
	}
	if b[0] != '{' && b[0] != '[' {
		dec := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
		n, err := base64.StdEncoding.Decode(dec, b)
		if err != nil {
			return nil, errors.New("message is neither JSON nor base64-encoded JSON")
		}
		b = bytes.TrimSpace(dec[:n])
		if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
			return nil, errors.New("message is base64 but does not encode JSON")
		}
	}
	if b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("parse event array: %w", err)
		}
		if len(list) != 1 {
			return nil, fmt.Errorf("message holds %d events, want one (Event Grid writes one event per queue message)", len(list))
		}
		b = bytes.TrimSpace(list[0])
		if len(b) == 0 || b[0] != '{' {
			return nil, errors.New("event array element is not an object")
		}
	}
	return b, nil
}

// egObject decodes an object field that may also arrive as JSON text
// (claims, authorization and httpRequest of older ARM events). Absent or
// null leaves v as is.
func egObject(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if strings.TrimSpace(s) == "" {
			return nil
		}
		raw = []byte(s)
	}
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '{' {
		return errors.New("not an object")
	}
	return json.Unmarshal(raw, v)
}

// egStrings decodes the claims object, keeping its string values: a claim
// of another type (amr is sometimes a list) is not one Vigil reads.
func egStrings(raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	if err := egObject(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out, nil
}

// egActor reads the actor from the claims, with the authorization
// evidence and the request's address as fallbacks.
func egActor(claims map[string]string, principalID, principalType, clientIP string) Actor {
	a := Actor{
		Name:            claims[claimUPN],
		ObjectID:        claims[claimObjectID],
		AppID:           claims["appid"],
		TenantID:        claims[claimTenantID],
		ManagedIdentity: claims["xms_mirid"],
		SourceIP:        claims["ipaddr"],
	}
	if a.Name == "" {
		a.Name = claims[claimName]
	}
	if a.AppID == "" {
		a.AppID = claims["azp"] // v2.0 tokens name the client azp
	}
	if a.ObjectID == "" {
		a.ObjectID = claims["oid"]
	}
	if a.ObjectID == "" {
		a.ObjectID = principalID
	}
	if a.TenantID == "" {
		a.TenantID = claims["tid"]
	}
	if a.SourceIP == "" {
		a.SourceIP = clientIP
	}
	switch strings.ToLower(claims["idtyp"]) {
	case "user":
		a.Type = ActorUser
	case "app":
		a.Type = ActorServicePrincipal
	}
	if a.Type == "" {
		switch strings.ToLower(principalType) {
		case "user":
			a.Type = ActorUser
		case "serviceprincipal":
			a.Type = ActorServicePrincipal
		}
	}
	if a.Type == "" {
		switch {
		case a.Name != "" && claims[claimUPN] != "":
			a.Type = ActorUser
		case a.AppID != "" && a.Name == "":
			a.Type = ActorServicePrincipal
		}
	}
	// A managed identity is a service principal whose token names the
	// identity's resource.
	if a.ManagedIdentity != "" && a.Type != ActorUser {
		a.Type = ActorManagedIdentity
	}
	return a
}

// egReadVerbs start the names of ARM actions that only read: a POST is an
// action whatever it does, but these change nothing Vigil collects.
var egReadVerbs = []string{"list", "get", "read", "query", "check", "validate", "export", "retrieve", "preview"}

// egReadAction reports whether an action operation (…/listKeys/action)
// only reads.
func egReadAction(operation string) bool {
	op := strings.TrimSuffix(strings.ToLower(operation), "/action")
	verb := op[strings.LastIndexByte(op, '/')+1:]
	for _, p := range egReadVerbs {
		if strings.HasPrefix(verb, p) {
			return true
		}
	}
	return false
}

// egSegmentAfter returns the path segment of an ARM id after the first
// segment equal (case-insensitively) to key.
func egSegmentAfter(id, key string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], key) {
			return parts[i+1]
		}
	}
	return ""
}

// Touched is one resource an event changed, in the form the watcher
// re-reads: the Vigil type and the ARM id of the collected resource.
type Touched struct {
	Type, UID, Region string
	// Deleted is set when the event deleted the collected resource itself
	// (not a child of it, such as an NSG rule).
	Deleted bool
}

// egKind is how a resource type maps to what Vigil collects.
type egKind struct {
	// typ is the Vigil type of the collected resource.
	typ string
	// depth is how many type/name pairs of the id name it: 1 for a
	// storage account, 3 for …/blobServices/default/containers/NAME.
	// Deeper ids (children) map to the resource at that depth.
	depth int
}

// egTypes maps a provider namespace and resource type path (lower case;
// ARM ids compare case-insensitively) to the collected resource. The
// longest matching prefix wins, so a child type maps to its collected
// ancestor: an NSG's securityRules to the NSG, a SQL server's
// firewallRules and auditingSettings to the server, a vault's secrets and
// keys to the vault.
var egTypes = map[string]egKind{
	"microsoft.storage/storageaccounts":                         {"azure.storage.account", 1},
	"microsoft.storage/storageaccounts/blobservices/containers": {"azure.storage.container", 3},
	"microsoft.network/networksecuritygroups":                   {"azure.network.nsg", 1},
	"microsoft.network/networkwatchers":                         {"azure.network.watcher", 1},
	"microsoft.network/networkwatchers/flowlogs":                {"azure.network.flow_log", 2},
	"microsoft.compute/virtualmachines":                         {"azure.compute.vm", 1},
	"microsoft.compute/disks":                                   {"azure.compute.disk", 1},
	"microsoft.sql/servers":                                     {"azure.sql.server", 1},
	"microsoft.keyvault/vaults":                                 {"azure.keyvault.vault", 1},
}

// egSubscriptionTypes are resource types at subscription scope whose
// settings the synthetic azure.subscription resource holds.
var egSubscriptionTypes = map[string]bool{
	"microsoft.insights/diagnosticsettings":       true,
	"microsoft.insights/activitylogalerts":        true,
	"microsoft.security/pricings":                 true,
	"microsoft.security/securitycontacts":         true,
	"microsoft.security/autoprovisioningsettings": true,
	"microsoft.security/settings":                 true,
}

// egExtensionTypes are extension resources that configure the resource
// they are attached to: a write to one re-reads that resource.
var egExtensionTypes = map[string]bool{
	"microsoft.insights/diagnosticsettings": true,
}

// egIdentityTypes are collected extension resources of any scope, whose
// UID is their own id.
var egIdentityTypes = map[string]string{
	"microsoft.authorization/roleassignments": "azure.authorization.role_assignment",
	"microsoft.authorization/roledefinitions": "azure.authorization.role_definition",
}

// egCanonical spells the provider namespaces and types Vigil maps the way
// ARM returns them in resource ids, so that a UID built from an event
// (whose resourceUri may be in any case) equals the collected one.
var egCanonical = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"Microsoft.Storage", "storageAccounts", "blobServices", "containers", "fileServices", "queueServices",
		"tableServices", "managementPolicies",
		"Microsoft.Network", "networkSecurityGroups", "securityRules", "networkWatchers", "flowLogs",
		"Microsoft.Compute", "virtualMachines", "extensions", "disks",
		"Microsoft.Sql", "servers", "firewallRules", "auditingSettings", "databases",
		"Microsoft.KeyVault", "vaults", "secrets", "keys", "accessPolicies",
		"Microsoft.Insights", "diagnosticSettings", "activityLogAlerts",
		"Microsoft.Security", "pricings", "securityContacts", "autoProvisioningSettings",
		"Microsoft.Authorization", "roleAssignments", "roleDefinitions",
	} {
		m[strings.ToLower(s)] = s
	}
	return m
}()

// egActions are the ARM actions (POSTs) that change something Vigil
// collects; the resource is the event's resourceUri. Other actions are
// read-only (egReadAction) or unknown.
var egActions = map[string]bool{
	"microsoft.storage/storageaccounts/regeneratekey/action":                          true, // key age checks
	"microsoft.storage/storageaccounts/failover/action":                               true,
	"microsoft.storage/storageaccounts/blobservices/containers/setlegalhold/action":   true,
	"microsoft.storage/storageaccounts/blobservices/containers/clearlegalhold/action": true,
	"microsoft.compute/virtualmachines/start/action":                                  true, // power state
	"microsoft.compute/virtualmachines/deallocate/action":                             true,
	"microsoft.compute/virtualmachines/poweroff/action":                               true,
	"microsoft.compute/virtualmachines/redeploy/action":                               true,
	"microsoft.compute/virtualmachines/reimage/action":                                true,
	"microsoft.compute/virtualmachines/converttomanageddisks/action":                  true,
	"microsoft.compute/disks/begingetaccess/action":                                   true, // a disk exported by SAS
	"microsoft.compute/disks/endgetaccess/action":                                     true,
	"microsoft.network/networkwatchers/configureflowlog/action":                       true,
}

// egBlock is one provider block of an ARM id: a namespace and its
// type/name pairs. An extension resource's id has two or more.
type egBlock struct {
	ns           string
	types, names []string
}

// egID is a parsed ARM resource id.
type egID struct {
	sub, rg string
	blocks  []egBlock
}

// egParseID parses an ARM resource id, or reports why it is not one.
func egParseID(id string) (egID, error) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	var p egID
	if len(parts) < 2 || !strings.EqualFold(parts[0], "subscriptions") || parts[1] == "" {
		return p, errors.New("does not start with /subscriptions/ID")
	}
	p.sub = strings.ToLower(parts[1])
	i := 2
	if i+1 < len(parts) && strings.EqualFold(parts[i], "resourceGroups") {
		if parts[i+1] == "" {
			return p, errors.New("empty resource group")
		}
		p.rg = parts[i+1]
		i += 2
	} else if i < len(parts) && strings.EqualFold(parts[i], "resourceGroups") {
		return p, errors.New("no resource group name")
	}
	for i < len(parts) {
		if !strings.EqualFold(parts[i], "providers") || i+1 >= len(parts) || parts[i+1] == "" {
			return p, fmt.Errorf("segment %d (%q) is not providers/NAMESPACE", i+1, parts[i])
		}
		b := egBlock{ns: parts[i+1]}
		i += 2
		// Type/name pairs until the next providers keyword; a name equal
		// to "providers" stays a name, being in a name position.
		for i < len(parts) && !strings.EqualFold(parts[i], "providers") {
			if i+1 >= len(parts) || parts[i] == "" || parts[i+1] == "" {
				return p, fmt.Errorf("type %q has no name", parts[i])
			}
			b.types = append(b.types, parts[i])
			b.names = append(b.names, parts[i+1])
			i += 2
		}
		if len(b.types) == 0 {
			return p, fmt.Errorf("provider %s names no resource", b.ns)
		}
		p.blocks = append(p.blocks, b)
	}
	return p, nil
}

// egCanon returns the canonical spelling of a namespace or type.
func egCanon(s string) string {
	if c, ok := egCanonical[strings.ToLower(s)]; ok {
		return c
	}
	return s
}

// scope returns the id of the subscription or resource group.
func (p egID) scope() string {
	s := "/subscriptions/" + p.sub
	if p.rg != "" {
		s += "/resourceGroups/" + p.rg
	}
	return s
}

// upTo returns the canonical id of the first n blocks, the last of them cut
// to depth type/name pairs.
func (p egID) upTo(n, depth int) string {
	var sb strings.Builder
	sb.WriteString(p.scope())
	for bi := 0; bi < n; bi++ {
		b := p.blocks[bi]
		sb.WriteString("/providers/" + egCanon(b.ns))
		d := len(b.types)
		if bi == n-1 {
			d = depth
		}
		for j := 0; j < d; j++ {
			sb.WriteString("/" + egCanon(b.types[j]) + "/" + b.names[j])
		}
	}
	return sb.String()
}

// key is the lower-case namespace/type/… path of block b, up to depth.
func (b egBlock) key(depth int) string {
	parts := append([]string{b.ns}, b.types[:depth]...)
	return strings.ToLower(strings.Join(parts, "/"))
}

// collected maps block b of the id to the collected resource it is or
// belongs to.
func (p egID) collected(bi int) (typ, uid string, itself, ok bool) {
	b := p.blocks[bi]
	if p.rg == "" && bi == 0 {
		return "", "", false, false
	}
	for d := len(b.types); d >= 1; d-- {
		if k, found := egTypes[b.key(d)]; found && k.depth == d {
			return k.typ, p.upTo(bi+1, d), d == len(b.types), true
		}
	}
	return "", "", false, false
}

// Targets maps an event to the resources Vigil collects that it changed;
// ok is false for an event Vigil does not map (another source's event, a
// type Vigil does not collect, an unknown action), so the caller can count
// it. Failed and read-only events changed nothing: they map to no
// resource with ok true, as do deployments (each resource a deployment
// changes has its own event).
func Targets(e Event) (ts []Touched, ok bool) {
	if !strings.HasPrefix(e.Type, egResourcesPrefix) {
		return nil, false
	}
	if e.Failed || e.ReadOnly {
		return nil, true
	}
	kind := strings.TrimPrefix(e.Type, egResourcesPrefix)
	deleted := kind == "DeleteSuccess"
	switch kind {
	case "WriteSuccess", "DeleteSuccess":
	case "ActionSuccess":
		if !egActions[strings.ToLower(e.Operation)] {
			return nil, false
		}
	default:
		return nil, false
	}
	p, err := egParseID(e.ResourceURI)
	if err != nil || len(p.blocks) == 0 {
		return nil, false
	}
	last := len(p.blocks) - 1
	lb := p.blocks[last]
	top := lb.key(1)
	if strings.EqualFold(top, "microsoft.resources/deployments") {
		return nil, true
	}
	if typ, found := egIdentityTypes[top]; found && len(lb.types) == 1 {
		return []Touched{{Type: typ, UID: p.upTo(last+1, 1), Region: regionGlobalEvents, Deleted: deleted}}, true
	}
	if last == 0 && p.rg == "" {
		if egSubscriptionTypes[top] {
			return []Touched{{Type: "azure.subscription", UID: "/subscriptions/" + p.sub, Region: regionGlobalEvents}}, true
		}
		return nil, false
	}
	if egSubscriptionTypes[top] && top == "microsoft.insights/activitylogalerts" {
		// Activity log alerts live in a resource group but are judged per
		// subscription ("an alert exists for …").
		return []Touched{{Type: "azure.subscription", UID: "/subscriptions/" + p.sub, Region: regionGlobalEvents}}, true
	}
	bi := last
	if last > 0 {
		// An extension resource: it configures the resource it is attached
		// to, when that is collected.
		if !egExtensionTypes[top] {
			return nil, false
		}
		bi, deleted = last-1, false
	}
	typ, uid, itself, found := p.collected(bi)
	if !found {
		return nil, false
	}
	return []Touched{{Type: typ, UID: uid, Deleted: deleted && itself}}, true
}

// regionGlobalEvents is the region of targets that belong to no location;
// it equals the engine's regionGlobal, kept apart so this file stands
// alone.
const regionGlobalEvents = "global"
