package azuretest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tableResourceGroups holds the resource groups that fixtures name
// explicitly, keyed by ARM id.
const tableResourceGroups = "resources.resourceGroups"

// ResourceGroup is a resource group as ARM's GET returns it
// (Microsoft.Resources/resourceGroups, api-version 2021-04-01).
type ResourceGroup struct {
	ID         *string           `json:"id,omitempty"`
	Name       *string           `json:"name,omitempty"`
	Type       *string           `json:"type,omitempty"`
	Location   *string           `json:"location,omitempty"`
	ManagedBy  *string           `json:"managedBy,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties *struct {
		ProvisioningState *string `json:"provisioningState,omitempty"`
	} `json:"properties,omitempty"`
}

func init() {
	RegisterNamespace("Microsoft.Resources", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"resourceGroups": loadKeyedModel[ResourceGroup](tableResourceGroups, func(g *ResourceGroup) *string { return g.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter { return resourceGroupsTransport{e: e, sub: sub} },
	})
}

// resourceGroupsTransport serves GET and HEAD of
// /subscriptions/{id}/resourcegroups/{name}: the SDK's armresources module
// is not a dependency, so it answers as ARM does by hand. A group exists
// when a fixture names it or when any resource of the estate lives in it,
// as every ARM resource lives in a group that exists.
type resourceGroupsTransport struct {
	e   *Estate
	sub string
}

// Do implements policy.Transporter.
func (tr resourceGroupsTransport) Do(req *http.Request) (*http.Response, error) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if len(parts) != 4 || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return errorResponse(req, http.StatusMethodNotAllowed, "UnsupportedOperation",
			"the in-memory estate serves only GET and HEAD of one resource group", ""), nil
	}
	name := parts[3]
	g, ok := tr.e.ResourceGroup(tr.sub, name)
	if !ok {
		if req.Method == http.MethodHead {
			return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: http.Header{},
				Body: http.NoBody, Request: req}, nil
		}
		return errorResponse(req, http.StatusNotFound, "ResourceGroupNotFound",
			fmt.Sprintf("Resource group '%s' could not be found.", name), ""), nil
	}
	if req.Method == http.MethodHead {
		return &http.Response{StatusCode: http.StatusNoContent, Status: "204 No Content", Header: http.Header{},
			Body: http.NoBody, Request: req}, nil
	}
	body, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK",
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body:   io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// ResourceGroup returns the resource group name of subscription sub: the
// one a fixture loaded, or else one made up for a group that holds
// resources of the estate.
func (e *Estate) ResourceGroup(sub, name string) (ResourceGroup, bool) {
	id := "/subscriptions/" + sub + "/resourceGroups/" + name
	if g, ok := Get(e, Table[ResourceGroup](e, tableResourceGroups), id); ok {
		return g, true
	}
	if !e.holdsResourcesIn(id) {
		return ResourceGroup{}, false
	}
	props := &struct {
		ProvisioningState *string `json:"provisioningState,omitempty"`
	}{ProvisioningState: ptr("Succeeded")}
	return ResourceGroup{ID: ptr(id), Name: ptr(name), Type: ptr("Microsoft.Resources/resourceGroups"),
		Location: ptr("westeurope"), Properties: props}, true
}

// holdsResourcesIn reports whether any resource of the estate has an id
// under the resource group id rg.
func (e *Estate) holdsResourcesIn(rg string) bool {
	prefix := key(rg) + "/"
	// A read: under e.mu.Lock it would count as a write and drop the
	// listing index.
	e.mu.RLock()
	defer e.mu.RUnlock()
	maps := []any{e.accounts, e.blobSvc, e.containers, e.nsgs}
	for _, t := range e.tables {
		maps = append(maps, t)
	}
	for _, m := range maps {
		// Every table is a map keyed by lowercased id; its value type
		// differs per namespace.
		for _, k := range reflect.ValueOf(m).MapKeys() {
			if strings.HasPrefix(k.String(), prefix) {
				return true
			}
		}
	}
	return false
}
