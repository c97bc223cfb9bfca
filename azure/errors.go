package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigilsec/vigil"
)

// classify maps an Azure SDK error to a Vigil error code so that callers can
// tell a missing role assignment from throttling, an unregistered resource
// provider or a missing resource.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		if c, ok := codeClass[re.ErrorCode]; ok {
			return c
		}
		switch code := re.StatusCode; {
		case code == 401:
			return vigil.EUNAUTHORIZED
		case code == 403:
			return vigil.EFORBIDDEN
		case code == 404:
			return vigil.ENOTFOUND
		case code == 429:
			return vigil.ETHROTTLED
		case code == 400 || code == 409:
			return vigil.EINVALID
		case code >= 500:
			return vigil.EUNAVAILABLE
		}
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		return vigil.EUNAUTHORIZED
	}
	var are *azidentity.AuthenticationRequiredError
	if errors.As(err, &are) {
		return vigil.EUNAUTHORIZED
	}
	var ce *credentialError
	if errors.As(err, &ce) {
		return vigil.EUNAUTHORIZED
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return vigil.EUNAVAILABLE
	}
	return vigil.EINTERNAL
}

// codeClass classifies the ARM error codes whose HTTP status alone says too
// little (ARM answers 409 for an unregistered provider, 400 for a disabled
// subscription).
var codeClass = map[string]string{
	"AuthorizationFailed":                vigil.EFORBIDDEN,
	"LinkedAuthorizationFailed":          vigil.EFORBIDDEN,
	"InvalidAuthenticationToken":         vigil.EUNAUTHORIZED,
	"InvalidAuthenticationTokenTenant":   vigil.EUNAUTHORIZED,
	"ExpiredAuthenticationToken":         vigil.EUNAUTHORIZED,
	"AuthenticationFailed":               vigil.EUNAUTHORIZED,
	"SubscriptionNotFound":               vigil.ENOTFOUND,
	"ResourceNotFound":                   vigil.ENOTFOUND,
	"ResourceGroupNotFound":              vigil.ENOTFOUND,
	"ContainerNotFound":                  vigil.ENOTFOUND,
	"TooManyRequests":                    vigil.ETHROTTLED,
	"ResourceRequestsThrottled":          vigil.ETHROTTLED,
	"MissingSubscriptionRegistration":    vigil.EUNAVAILABLE,
	"SubscriptionNotRegistered":          vigil.EUNAVAILABLE,
	"ReadOnlyDisabledSubscription":       vigil.EUNAVAILABLE,
	"DisabledSubscription":               vigil.EUNAVAILABLE,
	"FeatureNotSupportedForAccount":      vigil.EUNAVAILABLE,
	"OperationNotAllowedOnKind":          vigil.EUNAVAILABLE,
	"ServiceUnavailable":                 vigil.EUNAVAILABLE,
	"InternalServerError":                vigil.EUNAVAILABLE,
	"GatewayTimeout":                     vigil.EUNAVAILABLE,
	"InvalidSubscriptionId":              vigil.EINVALID,
	"InvalidResourceGroupNameOrLocation": vigil.EINVALID,
}

// credentialError marks an error of the credential itself (no token could
// be had), which azidentity reports with types that are partly unexported.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "azure credential: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// NonRetriable tells azcore's retry policy not to retry: a credential that
// failed once fails again.
func (e *credentialError) NonRetriable() {}

// markedCredential tags every error of its credential as a credentialError.
type markedCredential struct{ cred azcore.TokenCredential }

// GetToken implements azcore.TokenCredential.
func (m markedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := m.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, &credentialError{err}
	}
	return tok, nil
}

// message returns a short human message for err: ARM's error code and
// message when it is an API error, the error text otherwise. It never
// includes request URLs (they may carry SAS tokens) or headers.
func message(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", re.StatusCode)
		}
		if m := responseMessage(re); m != "" {
			msg += ": " + m
		}
		return msg
	}
	var ce *credentialError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return "cannot connect: " + ne.Error()
	}
	return err.Error()
}

// responseMessage returns ARM's error.message from the response body.
func responseMessage(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return ""
	}
	var doc struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return doc.Error.Message
}

// errorf turns err into a plain error carrying only its short message, so
// that wrapped errors returned to callers do not embed the SDK's full
// request report.
func errorf(err error) error { return fmt.Errorf("%s", message(err)) }
