package demo

import _ "embed"

// AzureEstate is the demo's Azure subscription: ARM response bodies (the
// shape of the Azure REST API specification examples) that the in-memory
// estate of package azuretest serves through the Azure SDK's fake
// transports. No Azure account is involved.
//
//go:embed azure.json
var AzureEstate []byte
