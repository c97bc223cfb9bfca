// Package azuretest is an in-memory Azure estate served to the real Azure
// SDK clients through the SDK's own fake server transports (the fake
// package of each arm* module). Tests of any package seed it from JSON
// fixtures shaped like ARM responses, point the collector's Transport at
// it, inject faults, and assert the writes that fixes send. Tests import
// it, and `vigil demo` serves its emulated Azure subscription with it.
package azuretest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	netfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	subfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	storfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/fake"
)

// Estate is an in-memory set of Azure subscriptions and resources, keyed
// by ARM id (case-insensitively, as ARM compares ids). It is safe for
// concurrent use.
type Estate struct {
	// PageSize is how many items a listing returns per page (default 50).
	PageSize int

	// mu guards the models; namespace files take mu.Lock to write them.
	mu         estateLock
	subs       map[string]*armsubscriptions.Subscription
	accounts   map[string]*armstorage.Account
	blobSvc    map[string]*armstorage.BlobServiceProperties // by account id
	containers map[string]*armstorage.BlobContainer
	nsgs       map[string]*armnetwork.SecurityGroup
	// callMu guards faults, calls and requests, which every request
	// writes: under mu, each request would exclude the others and
	// invalidate the key index.
	callMu   sync.Mutex
	faults   []*Fault
	calls    map[string]int
	requests []Request
	servers  map[string]*subServers // by subscription id
	subsTr   *subfake.ServerFactoryTransport
	// tables hold the models of registered namespaces, by table name.
	tables map[string]any
	// extServers are registered namespaces' transports, by
	// "subscription|namespace".
	extServers map[string]policy.Transporter
	// owned are the estate's own tables (the fields above and those of
	// tables), the only maps list indexes; mu guards it, idxMu index.
	owned map[unsafe.Pointer]bool
	idxMu sync.Mutex
	index map[unsafe.Pointer]sortedKeys
}

// estateLock is a read-write mutex whose every exclusive Lock counts as a
// write: namespace files write tables directly under Lock, so the count is
// how list knows that a table's sorted keys may be stale.
type estateLock struct {
	sync.RWMutex
	writes uint64
}

// Lock locks for writing and counts the write.
func (l *estateLock) Lock() {
	l.RWMutex.Lock()
	l.writes++
}

// sortedKeys are a table's keys, sorted, as of the write count writes.
type sortedKeys struct {
	writes uint64
	keys   []string
}

// mapID is the identity of a map: the pointer its value holds.
func mapID(m any) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

// Namespace is a provider namespace served by a file of this package of
// its own (compute.go, sql.go, …), so that adding one never edits the
// others: it names the fixture keys it loads and builds its fake transport
// for one subscription.
type Namespace struct {
	// Loaders read one fixture entry (an ARM GET response body) per key.
	Loaders map[string]func(e *Estate, raw json.RawMessage) error
	// Transport builds the fake transport of the namespace for one
	// subscription (lowercased id).
	Transport func(e *Estate, sub string) policy.Transporter
}

// namespaces are the registered namespaces, by lowercased name
// ("microsoft.compute").
var namespaces = map[string]*Namespace{}

// RegisterNamespace adds a namespace; called from each namespace file's
// init. Registering one twice, or a fixture key twice, panics.
func RegisterNamespace(name string, n *Namespace) {
	name = strings.ToLower(name)
	if _, dup := namespaces[name]; dup {
		panic("azuretest: namespace registered twice: " + name)
	}
	for k := range n.Loaders {
		for other, o := range namespaces {
			if _, dup := o.Loaders[k]; dup {
				panic("azuretest: fixture key " + k + " registered by " + other + " and " + name)
			}
		}
	}
	namespaces[name] = n
}

// Table returns the id-keyed table of models named name (such as
// "sql.servers"), made on first use. Read and write it with Put, Get and
// List, which take the estate's lock.
func Table[T any](e *Estate, name string) map[string]*T {
	e.mu.RLock()
	t, ok := e.tables[name]
	e.mu.RUnlock()
	if ok {
		return t.(map[string]*T)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.tables[name]; ok {
		return t.(map[string]*T)
	}
	nt := map[string]*T{}
	e.tables[name] = nt
	e.owned[mapID(nt)] = true
	return nt
}

// Put stores a copy of v under id in a table.
func Put[T any](e *Estate, table map[string]*T, id string, v T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	table[key(id)] = clone(&v)
}

// Get returns a copy of the model stored under id in a table.
func Get[T any](e *Estate, table map[string]*T, id string) (T, bool) { return get(e, table, id) }

// List returns copies of the models of a table whose ids start with prefix
// (case-insensitively), sorted by id.
func List[T any](e *Estate, table map[string]*T, prefix string) []*T {
	return list(e, table, strings.ToLower(prefix))
}

// Pages splits a listing into pages of the estate's page size.
func Pages[T any](e *Estate, items []*T) [][]*T { return chunks(e, items) }

// Delete removes id from a table and reports whether it was there.
func Delete[T any](e *Estate, table map[string]*T, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := table[key(id)]
	delete(table, key(id))
	return ok
}

// subServers are one subscription's fake transports: the fakes' listing
// functions receive no subscription id, so each subscription has its own.
type subServers struct {
	storage *storfake.ServerFactoryTransport
	network *netfake.ServerFactoryTransport
}

// Fault makes matching requests fail with an ARM error response.
type Fault struct {
	// API is the SDK operation, as "Client.Method"
	// ("BlobServicesClient.GetServiceProperties"); "" matches any.
	API string
	// Path is a substring of the request path, compared
	// case-insensitively; "" matches any.
	Path string
	// Status is the HTTP status of the response (403, 429, 500, …).
	Status int
	// Code is ARM's error code ("AuthorizationFailed", "TooManyRequests").
	Code string
	// Message is ARM's error message (default: a generic one).
	Message string
	// RetryAfter is the Retry-After header's value, in seconds.
	RetryAfter string
	// RetryAfterMS is the retry-after-ms header's value (azcore prefers it
	// to Retry-After), for tests that must not wait whole seconds.
	RetryAfterMS string
	// Times is how many matching requests fail; 0 means all of them.
	Times int

	hits int
}

// Request is one write (PUT, PATCH, POST, DELETE) the estate received.
type Request struct {
	Method string
	Path   string
	API    string
	Body   string
}

// New returns an empty estate.
func New() *Estate {
	e := &Estate{
		subs: map[string]*armsubscriptions.Subscription{}, accounts: map[string]*armstorage.Account{},
		blobSvc: map[string]*armstorage.BlobServiceProperties{}, containers: map[string]*armstorage.BlobContainer{},
		nsgs: map[string]*armnetwork.SecurityGroup{}, calls: map[string]int{}, servers: map[string]*subServers{},
		tables: map[string]any{}, extServers: map[string]policy.Transporter{},
		owned: map[unsafe.Pointer]bool{}, index: map[unsafe.Pointer]sortedKeys{},
	}
	for _, m := range []any{e.subs, e.accounts, e.blobSvc, e.containers, e.nsgs} {
		e.owned[mapID(m)] = true
	}
	return e
}

// Fixture is the JSON document Load reads: lists of ARM GET response bodies
// (the "responses.200.body" of the REST API specification examples).
type Fixture struct {
	Subscriptions         []json.RawMessage `json:"subscriptions"`
	StorageAccounts       []json.RawMessage `json:"storageAccounts"`
	BlobServices          []json.RawMessage `json:"blobServices"`
	BlobContainers        []json.RawMessage `json:"blobContainers"`
	NetworkSecurityGroups []json.RawMessage `json:"networkSecurityGroups"`
}

// LoadFile seeds the estate from a fixture file.
func (e *Estate) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read estate fixture: %w", err)
	}
	if err := e.Load(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Load seeds the estate from a fixture document, unmarshalled into the SDK
// models as the SDK would from ARM's responses.
func (e *Estate) Load(r io.Reader) error {
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return fmt.Errorf("decode estate fixture: %w", err)
	}
	core := map[string]json.RawMessage{}
	for _, k := range []string{"subscriptions", "storageAccounts", "blobServices", "blobContainers", "networkSecurityGroups"} {
		if v, ok := doc[k]; ok {
			core[k] = v
			delete(doc, k)
		}
	}
	b, _ := json.Marshal(core)
	var f Fixture
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("decode estate fixture: %w", err)
	}
	if err := e.loadRegistered(doc); err != nil {
		return err
	}
	for i, raw := range f.Subscriptions {
		var s armsubscriptions.Subscription
		if err := json.Unmarshal(raw, &s); err != nil || s.SubscriptionID == nil {
			return badEntry(fmt.Sprintf("subscriptions[%d]", i), "a subscription with subscriptionId", err)
		}
		e.PutSubscription(s)
	}
	for i, raw := range f.StorageAccounts {
		var a armstorage.Account
		if err := json.Unmarshal(raw, &a); err != nil || a.ID == nil {
			return badEntry(fmt.Sprintf("storageAccounts[%d]", i), "an account with id", err)
		}
		e.PutStorageAccount(a)
	}
	for i, raw := range f.BlobServices {
		var b armstorage.BlobServiceProperties
		if err := json.Unmarshal(raw, &b); err != nil || b.ID == nil {
			return badEntry(fmt.Sprintf("blobServices[%d]", i), "blob service properties with id", err)
		}
		e.PutBlobService(b)
	}
	for i, raw := range f.BlobContainers {
		var c armstorage.BlobContainer
		if err := json.Unmarshal(raw, &c); err != nil || c.ID == nil {
			return badEntry(fmt.Sprintf("blobContainers[%d]", i), "a container with id", err)
		}
		e.PutContainer(c)
	}
	for i, raw := range f.NetworkSecurityGroups {
		var g armnetwork.SecurityGroup
		if err := json.Unmarshal(raw, &g); err != nil || g.ID == nil {
			return badEntry(fmt.Sprintf("networkSecurityGroups[%d]", i), "a security group with id", err)
		}
		e.PutSecurityGroup(g)
	}
	return nil
}

// loadRegistered hands the fixture's other keys to the namespaces that
// registered them; a key no namespace knows is an error.
func (e *Estate) loadRegistered(doc map[string]json.RawMessage) error {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var load func(*Estate, json.RawMessage) error
		for _, n := range namespaces {
			if l, ok := n.Loaders[k]; ok {
				load = l
			}
		}
		if load == nil {
			return fmt.Errorf("decode estate fixture: unknown key %q", k)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(doc[k], &items); err != nil {
			return fmt.Errorf("%s: want a list of ARM response bodies: %w", k, err)
		}
		for i, raw := range items {
			if err := load(e, raw); err != nil {
				return fmt.Errorf("%s[%d]: %w", k, i, err)
			}
		}
	}
	return nil
}

func key(id string) string { return strings.ToLower(strings.TrimRight(id, "/")) }

// PutSubscription adds or replaces a subscription.
func (e *Estate) PutSubscription(s armsubscriptions.Subscription) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.ID == nil {
		s.ID = ptr("/subscriptions/" + *s.SubscriptionID)
	}
	e.subs[key(*s.SubscriptionID)] = clone(&s)
}

// PutStorageAccount adds or replaces a storage account.
func (e *Estate) PutStorageAccount(a armstorage.Account) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts[key(*a.ID)] = clone(&a)
}

// PutBlobService sets an account's blob service properties; its id is
// {account id}/blobServices/default.
func (e *Estate) PutBlobService(b armstorage.BlobServiceProperties) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.blobSvc[key(parentOf(*b.ID, 2))] = clone(&b)
}

// PutContainer adds or replaces a blob container.
func (e *Estate) PutContainer(c armstorage.BlobContainer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.containers[key(*c.ID)] = clone(&c)
}

// PutSecurityGroup adds or replaces a network security group.
func (e *Estate) PutSecurityGroup(g armnetwork.SecurityGroup) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nsgs[key(*g.ID)] = clone(&g)
}

// StorageAccount returns a copy of the account with id.
func (e *Estate) StorageAccount(id string) (armstorage.Account, bool) { return get(e, e.accounts, id) }

// BlobService returns a copy of an account's blob service properties.
func (e *Estate) BlobService(accountID string) (armstorage.BlobServiceProperties, bool) {
	return get(e, e.blobSvc, accountID)
}

// Container returns a copy of the blob container with id.
func (e *Estate) Container(id string) (armstorage.BlobContainer, bool) {
	return get(e, e.containers, id)
}

// SecurityGroup returns a copy of the network security group with id.
func (e *Estate) SecurityGroup(id string) (armnetwork.SecurityGroup, bool) { return get(e, e.nsgs, id) }

func get[T any](e *Estate, m map[string]*T, id string) (T, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	v, ok := m[key(id)]
	if !ok {
		var zero T
		return zero, false
	}
	return *clone(v), true
}

// Inject adds a fault; faults are matched in the order added.
func (e *Estate) Inject(f Fault) {
	e.callMu.Lock()
	defer e.callMu.Unlock()
	e.faults = append(e.faults, &f)
}

// Calls returns how many HTTP requests the estate received for an SDK
// operation ("AccountsClient.NewListPager"), faults included.
func (e *Estate) Calls(api string) int {
	e.callMu.Lock()
	defer e.callMu.Unlock()
	return e.calls[api]
}

// Requests returns the writes received, in order.
func (e *Estate) Requests() []Request {
	e.callMu.Lock()
	defer e.callMu.Unlock()
	return append([]Request(nil), e.requests...)
}

// Transport returns the policy.Transporter that serves the estate: each
// request goes to the fake transport of its module, chosen by the URL's
// provider namespace, and of its subscription.
func (e *Estate) Transport() policy.Transporter { return transport{e} }

type transport struct{ e *Estate }

// Do implements policy.Transporter.
func (tr transport) Do(req *http.Request) (*http.Response, error) {
	e := tr.e
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		e.callMu.Lock()
		e.requests = append(e.requests, Request{Method: req.Method, Path: req.URL.Path, API: api, Body: string(body)})
		e.callMu.Unlock()
	}
	e.callMu.Lock()
	e.calls[api]++
	fault := e.match(req, api)
	e.callMu.Unlock()
	if fault != nil {
		resp := errorResponse(req, fault.Status, fault.Code, fault.Message, fault.RetryAfter)
		if fault.RetryAfterMS != "" {
			resp.Header.Set("Retry-After-Ms", fault.RetryAfterMS)
		}
		return resp, nil
	}
	sub, ns := route(req.URL.Path)
	switch ns {
	case "":
		return e.subscriptionsTransport().Do(req)
	case "microsoft.storage", "microsoft.network":
		srv := e.serversFor(sub)
		if srv == nil {
			return errorResponse(req, http.StatusNotFound, "SubscriptionNotFound",
				fmt.Sprintf("The subscription '%s' could not be found.", sub), ""), nil
		}
		if ns == "microsoft.storage" {
			return srv.storage.Do(req)
		}
		return srv.network.Do(req)
	}
	if n, ok := namespaces[ns]; ok {
		tr := e.registeredTransport(sub, ns, n)
		if tr == nil {
			return errorResponse(req, http.StatusNotFound, "SubscriptionNotFound",
				fmt.Sprintf("The subscription '%s' could not be found.", sub), ""), nil
		}
		return tr.Do(req)
	}
	return errorResponse(req, http.StatusBadRequest, "NoRegisteredProviderFound",
		"the in-memory estate does not serve namespace "+ns, ""), nil
}

// registeredTransport returns a registered namespace's transport for a
// subscription, nil when the estate has no such subscription.
func (e *Estate) registeredTransport(sub, ns string, n *Namespace) policy.Transporter {
	e.mu.RLock()
	k := key(sub)
	if _, ok := e.subs[k]; !ok {
		e.mu.RUnlock()
		return nil
	}
	if tr, ok := e.extServers[k+"|"+ns]; ok {
		e.mu.RUnlock()
		return tr
	}
	e.mu.RUnlock()
	// Built outside the lock: a namespace's builder may read the estate.
	tr := n.Transport(e, k)
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.extServers[k+"|"+ns]; ok {
		return prev
	}
	e.extServers[k+"|"+ns] = tr
	return tr
}

// match returns the first fault matching the request and consumes one of
// its hits; e.callMu is held.
func (e *Estate) match(req *http.Request, api string) *Fault {
	path := strings.ToLower(req.URL.Path)
	for _, f := range e.faults {
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		if (f.API == "" || f.API == api) && (f.Path == "" || strings.Contains(path, strings.ToLower(f.Path))) {
			f.hits++
			return f
		}
	}
	return nil
}

// errorResponse is an ARM error response as ARM sends it.
func errorResponse(req *http.Request, status int, code, msg, retryAfter string) *http.Response {
	if msg == "" {
		msg = fmt.Sprintf("injected %s (%d)", code, status)
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Ms-Error-Code": {code}}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Header: h,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// route returns the subscription id and lowercased provider namespace of
// an ARM path; the namespace is "" for subscription and tenant paths.
func route(path string) (sub, ns string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		switch strings.ToLower(parts[i]) {
		case "subscriptions":
			if sub == "" {
				sub = parts[i+1]
			}
		case "providers":
			return sub, strings.ToLower(parts[i+1])
		}
	}
	if len(parts) >= 3 && strings.EqualFold(parts[0], "subscriptions") && strings.EqualFold(parts[2], "resourcegroups") {
		// Resource groups themselves have no provider segment:
		// Microsoft.Resources serves them (resources.go).
		return sub, "microsoft.resources"
	}
	return sub, ""
}

// serversFor returns the subscription's fake transports, nil when the
// estate has no such subscription.
func (e *Estate) serversFor(sub string) *subServers {
	k := key(sub)
	e.mu.RLock()
	_, known := e.subs[k]
	s, ok := e.servers[k]
	e.mu.RUnlock()
	if !known {
		return nil
	}
	if ok {
		return s
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.subs[k]; !ok {
		return nil
	}
	if s, ok := e.servers[k]; ok {
		return s
	}
	s = &subServers{
		storage: storfake.NewServerFactoryTransport(e.storageServer(k)),
		network: netfake.NewServerFactoryTransport(e.networkServer(k)),
	}
	e.servers[k] = s
	return s
}

func (e *Estate) subscriptionsTransport() *subfake.ServerFactoryTransport {
	e.mu.RLock()
	tr := e.subsTr
	e.mu.RUnlock()
	if tr != nil {
		return tr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subsTr == nil {
		e.subsTr = subfake.NewServerFactoryTransport(e.subscriptionServer())
	}
	return e.subsTr
}

// list returns copies of the values of m under the subscription whose ids
// start with prefix (lowercased), sorted by id; e.mu is not held.
//
// The keys of the estate's tables are kept sorted (rebuilt after a write),
// so that a listing costs a binary search and its own items: the
// per-parent listings of a scan (containers of each account, keys of each
// vault, extensions of each VM, …) made every listing a scan of the whole
// table, 420ms of CPU over a scan of the 10,266-resource estate of
// internal/bench's BenchmarkAzureScan. Read locks let listings and gets
// clone in parallel; under one mutex they queued behind each other's JSON
// round trips.
func list[T any](e *Estate, m map[string]*T, prefix string) []*T {
	e.mu.RLock()
	defer e.mu.RUnlock()
	keys := e.sortedKeys(m)
	lo := sort.SearchStrings(keys, prefix)
	hi := lo
	for hi < len(keys) && strings.HasPrefix(keys[hi], prefix) {
		hi++
	}
	out := make([]*T, 0, hi-lo)
	for _, k := range keys[lo:hi] {
		out = append(out, clone(m[k]))
	}
	return out
}

// sortedKeys returns the keys of m, sorted, from the index when no write
// happened since it was built; e.mu is read-locked. Maps the estate does
// not own are never indexed: one could reuse a dropped map's address.
func (e *Estate) sortedKeys(m any) []string {
	id := mapID(m)
	writes := e.mu.writes
	owned := e.owned[id]
	e.idxMu.Lock()
	ix, ok := e.index[id]
	e.idxMu.Unlock()
	if ok && ix.writes == writes {
		return ix.keys
	}
	v := reflect.ValueOf(m)
	keys := make([]string, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		keys = append(keys, it.Key().String())
	}
	sort.Strings(keys)
	if owned {
		e.idxMu.Lock()
		e.index[id] = sortedKeys{writes: writes, keys: keys}
		e.idxMu.Unlock()
	}
	return keys
}

// chunks splits items into pages of the estate's page size; an empty
// listing is one empty page.
func chunks[T any](e *Estate, items []*T) [][]*T {
	size := e.PageSize
	if size <= 0 {
		size = 50
	}
	if len(items) == 0 {
		return [][]*T{nil}
	}
	var out [][]*T
	for i := 0; i < len(items); i += size {
		out = append(out, items[i:min(i+size, len(items))])
	}
	return out
}

// clone deep-copies an SDK model through its JSON form, so that callers
// never share the estate's values.
func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("azuretest: marshal %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("azuretest: unmarshal %T: %v", v, err))
	}
	return out
}

// patch merges the JSON form of p into dst, as an ARM PATCH does: fields
// present in p replace dst's, absent ones stay.
func patch[T any](dst *T, p any) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// parentOf drops the last n segments of an ARM id.
func parentOf(id string, n int) string {
	parts := strings.Split(strings.TrimRight(id, "/"), "/")
	return strings.Join(parts[:max(0, len(parts)-n)], "/")
}

func ptr[T any](v T) *T { return &v }

// badEntry describes a fixture entry that is not the model it should be:
// one that does not decode (wrapping why) or that lacks its id.
// where is "" for the entries of registered namespaces, whose loader's
// caller names them.
func badEntry(where, want string, err error) error {
	if where != "" {
		where += ": "
	}
	if err != nil {
		return fmt.Errorf("%swant %s: %w", where, want, err)
	}
	return fmt.Errorf("%swant %s", where, want)
}
