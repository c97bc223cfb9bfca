package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/vigilsec/vigil"
)

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return &smithy.OperationError{ServiceID: "S3", OperationName: "GetBucketPolicy",
			Err: &smithy.GenericAPIError{Code: code, Message: "m"}}
	}
	status := func(code int) error {
		return &smithy.OperationError{ServiceID: "Access Analyzer", OperationName: "ListAnalyzers",
			Err: &retry.MaxAttemptsError{Attempt: 5, Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("deserialization failed")}}}}
	}
	cases := []struct {
		name string
		err  error
		code string
		msg  string
		op   string
	}{
		{"access denied", api("AccessDenied"), vigil.EFORBIDDEN, "AccessDenied: m", "s3:GetBucketPolicy"},
		{"unauthorized operation", api("UnauthorizedOperation"), vigil.EFORBIDDEN, "UnauthorizedOperation: m", "s3:GetBucketPolicy"},
		{"bad token", api("InvalidClientTokenId"), vigil.EUNAUTHORIZED, "InvalidClientTokenId: m", "s3:GetBucketPolicy"},
		{"throttling", api("ThrottlingException"), vigil.ETHROTTLED, "ThrottlingException: m", "s3:GetBucketPolicy"},
		{"request limit", api("RequestLimitExceeded"), vigil.ETHROTTLED, "RequestLimitExceeded: m", "s3:GetBucketPolicy"},
		{"opt in", api("OptInRequired"), vigil.EUNAVAILABLE, "OptInRequired: m", "s3:GetBucketPolicy"},
		{"no such", api("NoSuchBucketPolicy"), vigil.ENOTFOUND, "NoSuchBucketPolicy: m", "s3:GetBucketPolicy"},
		{"ec2 not found", api("InvalidSnapshot.NotFound"), vigil.ENOTFOUND, "InvalidSnapshot.NotFound: m", "s3:GetBucketPolicy"},
		{"server error after retries", status(500), vigil.EUNAVAILABLE, "HTTP 500 after 5 attempts", "accessanalyzer:ListAnalyzers"},
		{"429 after retries", status(429), vigil.ETHROTTLED, "HTTP 429 after 5 attempts", "accessanalyzer:ListAnalyzers"},
		{"connection refused", &smithy.OperationError{ServiceID: "STS", OperationName: "GetCallerIdentity",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
			vigil.EUNAVAILABLE, "cannot connect: dial tcp: connection refused", "sts:GetCallerIdentity"},
		{"timeout", fmt.Errorf("read: %w", context.DeadlineExceeded), vigil.EUNAVAILABLE, "read: context deadline exceeded", "fallback"},
		{"other", errors.New("boom"), vigil.EINTERNAL, "boom", "fallback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.code {
				t.Errorf("classify = %q, want %q", got, tc.code)
			}
			if got := message(tc.err); got != tc.msg {
				t.Errorf("message = %q, want %q", got, tc.msg)
			}
			if got := operation(tc.err, "fallback"); got != tc.op {
				t.Errorf("operation = %q, want %q", got, tc.op)
			}
		})
	}
}
