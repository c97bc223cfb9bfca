package azuretest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
	secfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity/fake"
)

// Tables of Microsoft.Security, keyed by ARM id.
const (
	tablePricings         = "security.pricings"
	tableSecurityContacts = "security.contacts"
	tableAutoProvisioning = "security.autoProvisioningSettings"
)

func init() {
	RegisterNamespace("Microsoft.Security", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"pricings":                 loadKeyedModel[armsecurity.Pricing](tablePricings, func(p *armsecurity.Pricing) *string { return p.ID }),
			"securityContacts":         loadKeyedModel[armsecurity.Contact](tableSecurityContacts, func(c *armsecurity.Contact) *string { return c.ID }),
			"autoProvisioningSettings": loadKeyedModel[armsecurity.AutoProvisioningSetting](tableAutoProvisioning, func(s *armsecurity.AutoProvisioningSetting) *string { return s.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			return secfake.NewServerFactoryTransport(e.securityServer(sub))
		},
	})
}

// loadKeyedModel returns a fixture loader that unmarshals one ARM response body
// into T and stores it in a table under the id idOf returns.
func loadKeyedModel[T any](table string, idOf func(*T) *string) func(*Estate, json.RawMessage) error {
	return func(e *Estate, raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %T: %w", v, err)
		}
		id := idOf(&v)
		if id == nil || *id == "" {
			return fmt.Errorf("want a %T with id", v)
		}
		Put(e, Table[T](e, table), *id, v)
		return nil
	}
}

// Pricing returns the Defender plan stored under id
// (/subscriptions/{id}/providers/Microsoft.Security/pricings/{plan}).
func (e *Estate) Pricing(id string) (armsecurity.Pricing, bool) {
	return Get(e, Table[armsecurity.Pricing](e, tablePricings), id)
}

// securityServer serves Microsoft.Security for one subscription: Defender
// plans (pricings, with the PUT a fix sends), security contacts and
// auto-provisioning settings.
func (e *Estate) securityServer(sub string) *secfake.ServerFactory {
	prefix := "/subscriptions/" + sub + "/"
	pricings := Table[armsecurity.Pricing](e, tablePricings)
	contacts := Table[armsecurity.Contact](e, tableSecurityContacts)
	autoProv := Table[armsecurity.AutoProvisioningSetting](e, tableAutoProvisioning)
	pricingID := func(scope, name string) string {
		return "/" + strings.Trim(scope, "/") + "/providers/Microsoft.Security/pricings/" + name
	}
	return &secfake.ServerFactory{
		PricingsServer: secfake.PricingsServer{
			List: func(_ context.Context, scope string, _ *armsecurity.PricingsClientListOptions) (resp azfake.Responder[armsecurity.PricingsClientListResponse], errResp azfake.ErrorResponder) {
				resp.SetResponse(http.StatusOK, armsecurity.PricingsClientListResponse{PricingList: armsecurity.PricingList{
					Value: List(e, pricings, "/"+strings.Trim(scope, "/")+"/providers/Microsoft.Security/pricings/")}}, nil)
				return
			},
			Get: func(_ context.Context, scope, name string, _ *armsecurity.PricingsClientGetOptions) (resp azfake.Responder[armsecurity.PricingsClientGetResponse], errResp azfake.ErrorResponder) {
				p, ok := Get(e, pricings, pricingID(scope, name))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "PricingNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armsecurity.PricingsClientGetResponse{Pricing: p}, nil)
				return
			},
			// Update is the PUT of a plan (az security pricing create).
			Update: func(_ context.Context, scope, name string, p armsecurity.Pricing, _ *armsecurity.PricingsClientUpdateOptions) (resp azfake.Responder[armsecurity.PricingsClientUpdateResponse], errResp azfake.ErrorResponder) {
				if p.Properties == nil || p.Properties.PricingTier == nil {
					errResp.SetResponseError(http.StatusBadRequest, "InvalidInputJson")
					return
				}
				id := pricingID(scope, name)
				if cur, ok := Get(e, pricings, id); ok && cur.ID != nil {
					id = *cur.ID // keep ARM's spelling of the id
				}
				p.ID, p.Name, p.Type = ptr(id), ptr(name), ptr("Microsoft.Security/pricings")
				Put(e, pricings, id, p)
				got, _ := Get(e, pricings, id)
				resp.SetResponse(http.StatusOK, armsecurity.PricingsClientUpdateResponse{Pricing: got}, nil)
				return
			},
		},
		ContactsServer: secfake.ContactsServer{
			NewListPager: func(*armsecurity.ContactsClientListOptions) (resp azfake.PagerResponder[armsecurity.ContactsClientListResponse]) {
				for _, page := range Pages(e, List(e, contacts, prefix)) {
					resp.AddPage(http.StatusOK, armsecurity.ContactsClientListResponse{ContactList: armsecurity.ContactList{Value: page}}, nil)
				}
				return
			},
		},
		AutoProvisioningSettingsServer: secfake.AutoProvisioningSettingsServer{
			NewListPager: func(*armsecurity.AutoProvisioningSettingsClientListOptions) (resp azfake.PagerResponder[armsecurity.AutoProvisioningSettingsClientListResponse]) {
				for _, page := range Pages(e, List(e, autoProv, prefix)) {
					resp.AddPage(http.StatusOK, armsecurity.AutoProvisioningSettingsClientListResponse{
						AutoProvisioningSettingList: armsecurity.AutoProvisioningSettingList{Value: page}}, nil)
				}
				return
			},
		},
	}
}
