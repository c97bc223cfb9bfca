package aws

import (
	"encoding/json"
	"net/url"
	"strings"
)

// timeFormat is how timestamps appear in resource properties.
const timeFormat = "2006-01-02T15:04:05Z"

// parsePolicy decodes a JSON policy document (URL-encoded, as IAM returns
// it, or plain) into a generic value for properties. A document that does
// not parse is kept as {"_raw": text, "_error": …} so a check can tell.
//
// Only a document that is not already JSON is URL-decoded: S3, SQS, SNS,
// Lambda and KMS return plain JSON, in which "+" and "%xx" are literal (IAM
// names may contain "+", condition values "%"), and decoding it would
// rewrite principals and condition values. IAM documents are encoded per
// RFC 3986 and decode as java.net.URLDecoder does, which QueryUnescape
// matches ("+" is a space, a literal "+" is "%2B").
func parsePolicy(doc string) any {
	if doc == "" {
		return nil
	}
	if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
		if d, err := url.QueryUnescape(doc); err == nil && strings.HasPrefix(strings.TrimSpace(d), "{") {
			doc = d
		}
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return map[string]any{"_raw": doc, "_error": err.Error()}
	}
	return v
}

// tagMap converts any SDK tag list to a map using the key and value getters.
func tagMap[T any](tags []T, kv func(T) (*string, *string)) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v := kv(t)
		if k != nil {
			m[*k] = deref(v)
		}
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
