package aws

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

// classify maps an AWS SDK error to a Vigil error code so that callers can
// tell a missing permission from throttling, an unsubscribed service or a
// missing object.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if c, ok := codeClass[code]; ok {
			return c
		}
		switch {
		case strings.Contains(code, "Throttl"):
			return vigil.ETHROTTLED
		case strings.HasPrefix(code, "NoSuch"), strings.HasSuffix(code, "NotFound"),
			strings.HasSuffix(code, "NotFoundException"), strings.HasSuffix(code, "NotFoundFault"),
			strings.Contains(code, ".NotFound"):
			return vigil.ENOTFOUND
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 429:
			return vigil.ETHROTTLED
		case code == 401:
			return vigil.EUNAUTHORIZED
		case code == 403:
			return vigil.EFORBIDDEN
		case code == 404:
			return vigil.ENOTFOUND
		case code >= 500:
			return vigil.EUNAVAILABLE
		}
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) {
		return vigil.ETHROTTLED
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return vigil.EUNAVAILABLE
	}
	return vigil.EINTERNAL
}

// codeClass classifies the AWS error codes that no pattern covers.
var codeClass = map[string]string{
	"AccessDenied":                  vigil.EFORBIDDEN,
	"AccessDeniedException":         vigil.EFORBIDDEN,
	"UnauthorizedOperation":         vigil.EFORBIDDEN,
	"AuthorizationError":            vigil.EFORBIDDEN,
	"AuthorizationErrorException":   vigil.EFORBIDDEN,
	"Forbidden":                     vigil.EFORBIDDEN,
	"UnrecognizedClientException":   vigil.EUNAUTHORIZED,
	"AuthFailure":                   vigil.EUNAUTHORIZED,
	"InvalidClientTokenId":          vigil.EUNAUTHORIZED,
	"SignatureDoesNotMatch":         vigil.EUNAUTHORIZED,
	"ExpiredToken":                  vigil.EUNAUTHORIZED,
	"ExpiredTokenException":         vigil.EUNAUTHORIZED,
	"InvalidAccessKeyId":            vigil.EUNAUTHORIZED,
	"RequestLimitExceeded":          vigil.ETHROTTLED,
	"TooManyRequestsException":      vigil.ETHROTTLED,
	"SlowDown":                      vigil.ETHROTTLED,
	"OptInRequired":                 vigil.EUNAVAILABLE,
	"SubscriptionRequiredException": vigil.EUNAVAILABLE,
	"InvalidAction":                 vigil.EUNAVAILABLE,
	"UnsupportedOperation":          vigil.EUNAVAILABLE,
	"UnknownOperationException":     vigil.EUNAVAILABLE,
	"NotImplemented":                vigil.EUNAVAILABLE,
	"ServiceUnavailable":            vigil.EUNAVAILABLE,
	"ServiceUnavailableException":   vigil.EUNAVAILABLE,
	"ResourceNotFoundException":     vigil.ENOTFOUND,
	"NotFound":                      vigil.ENOTFOUND,
}

// errorCode returns the provider's error code, or "" when err carries none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// hasCode reports whether err is an AWS API error with one of the codes.
func hasCode(err error, codes ...string) bool {
	c := errorCode(err)
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// message returns a short human message for err: the API's code and message
// when it is an API error, the error text otherwise.
func message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m := ae.ErrorMessage(); m != "" {
			return ae.ErrorCode() + ": " + m
		}
		return ae.ErrorCode()
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return "cannot connect: " + ne.Error()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		msg := fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
		var ma *retry.MaxAttemptsError
		if errors.As(err, &ma) {
			msg += fmt.Sprintf(" after %d attempts", ma.Attempt)
		}
		return msg
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return oe.Err.Error()
	}
	return err.Error()
}
