package azure

import (
	"context"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

// TestNewValidation asserts which options New refuses, and with what message.
func TestNewValidation(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string // substring of the error; "" for success
	}{
		{"defaults", Options{}, ""},
		{"usgov", Options{Cloud: "usgov"}, ""},
		{"unknown cloud", Options{Cloud: "germany"}, `unknown azure cloud "germany"`},
		{"bad subscription", Options{Subscriptions: []string{"prod"}}, `invalid azure subscription id "prod"`},
		{"https endpoint", Options{Endpoint: "https://management.example.com"}, ""},
		{"loopback http", Options{Endpoint: "http://127.0.0.1:8443"}, ""},
		{"localhost http", Options{Endpoint: "http://localhost:8443/"}, ""},
		{"ipv6 loopback http", Options{Endpoint: "http://[::1]:8443"}, ""},
		{"remote http", Options{Endpoint: "http://arm.example.com"}, "allowed only for a loopback host"},
		{"lan http", Options{Endpoint: "http://10.0.0.5:8443"}, "allowed only for a loopback host"},
		{"no scheme", Options{Endpoint: "management.example.com"}, "invalid azure endpoint"},
		{"ftp", Options{Endpoint: "ftp://example.com"}, "invalid azure endpoint"},
		{"unknown rate", Options{Rates: map[string]float64{"batch": 5}}, `unknown azure service "batch"`},
		{"zero rate", Options{Rates: map[string]float64{"storage": 0}}, "must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Credential = &azfake.TokenCredential{}
			c, err := New(tc.opts)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want invalid %q", c, err, tc.want)
			}
		})
	}
}

// TestInsecureOnlyForLoopback asserts that credentials over plain HTTP are
// enabled only for a loopback endpoint, and that the endpoint is the
// token audience.
func TestInsecureOnlyForLoopback(t *testing.T) {
	for endpoint, insecure := range map[string]bool{"http://127.0.0.1:1": true, "https://arm.example.com": false, "": false} {
		c, err := New(Options{Endpoint: endpoint, Credential: &azfake.TokenCredential{}})
		if err != nil {
			t.Fatal(err)
		}
		if c.clientOpts.InsecureAllowCredentialWithHTTP != insecure {
			t.Errorf("%q: InsecureAllowCredentialWithHTTP = %v", endpoint, !insecure)
		}
		if endpoint != "" {
			rm := c.clientOpts.Cloud.Services["resourceManager"]
			if rm.Endpoint != endpoint || rm.Audience != endpoint {
				t.Errorf("%q: resource manager config %+v", endpoint, rm)
			}
		}
	}
}

// TestResolve asserts subscription discovery and the error for one the
// credential cannot read.
func TestResolve(t *testing.T) {
	e := newEstate(t)
	c := newCollector(t, e, Options{})
	all, err := c.Resolve(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.Account{{Provider: vigil.Azure, ID: subProd, Name: "Contoso Production"},
		{Provider: vigil.Azure, ID: subSandbox, Name: "Contoso Sandbox"}}
	if len(all) != 2 || all[0].ID != want[0].ID || all[0].Name != want[0].Name || all[1].ID != want[1].ID || all[1].Provider != vigil.Azure {
		t.Errorf("Resolve(all) = %+v, want %+v", all, want)
	}
	one, err := c.Resolve(context.Background(), []string{subSandbox})
	if err != nil || len(one) != 1 || one[0].Name != "Contoso Sandbox" {
		t.Errorf("Resolve(sandbox) = %+v, %v", one, err)
	}
	unknown := "00000000-0000-0000-0000-000000000001"
	_, err = c.Resolve(context.Background(), []string{unknown})
	if vigil.ErrorCode(err) != vigil.ENOTFOUND || !strings.Contains(err.Error(), unknown) {
		t.Errorf("unknown subscription: %v", err)
	}
	e.Inject(azuretest.Fault{API: "Client.Get", Status: 403, Code: "AuthorizationFailed", Times: 1})
	_, err = c.Resolve(context.Background(), []string{subSandbox})
	if vigil.ErrorCode(err) != vigil.EFORBIDDEN || !strings.Contains(err.Error(), "azure subscription "+subSandbox) {
		t.Errorf("forbidden subscription: %v", err)
	}
	// Options.Subscriptions is the default list.
	c2 := newCollector(t, e, Options{Subscriptions: []string{subProd}})
	if got, err := c2.Resolve(context.Background(), nil); err != nil || len(got) != 1 || got[0].ID != subProd {
		t.Errorf("Resolve(options) = %+v, %v", got, err)
	}
}

// TestRouteOf asserts the rate-limit key of ARM paths.
func TestRouteOf(t *testing.T) {
	for path, want := range map[string][2]string{
		"/subscriptions":            {"", "subscriptions"},
		"/subscriptions/" + subProd: {subProd, "subscriptions"},
		"/subscriptions/" + subProd + "/providers/Microsoft.Storage/storageAccounts":                           {subProd, "storage"},
		"/subscriptions/" + subProd + "/resourceGroups/rg/providers/microsoft.network/networkSecurityGroups/x": {subProd, "network"},
	} {
		if s, svc := routeOf(path); s != want[0] || svc != want[1] {
			t.Errorf("routeOf(%s) = %s, %s; want %v", path, s, svc, want)
		}
	}
}
