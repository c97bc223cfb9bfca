package aws

import (
	"encoding/json"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	// A plain JSON policy with characters that URL decoding would rewrite:
	// "+" is legal in IAM names and "%41" is a literal condition value.
	const plain = `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/deploy+ci"},` +
		`"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"s3:prefix":"100%41"}}}]}`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{name: "plain JSON is kept verbatim", doc: plain, want: plain},
		{name: "plain JSON after whitespace", doc: "\n  " + plain, want: plain},
		// IAM encodes per RFC 3986 and documents decoding with
		// java.net.URLDecoder: "%2B" is a "+", "+" and "%20" are spaces.
		{name: "IAM URL-encoded", doc: "%7B%22Sid%22%3A%22a%2Bb%20c+d%22%7D", want: `{"Sid":"a+b c d"}`},
		{name: "not JSON", doc: "nonsense", want: `{"_error":"invalid character 'o' in literal null (expecting 'u')","_raw":"nonsense"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(parsePolicy(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			w, _ := json.Marshal(want)
			if string(got) != string(w) {
				t.Errorf("parsePolicy(%q)\n got %s\nwant %s", tc.doc, got, w)
			}
		})
	}
	if parsePolicy("") != nil {
		t.Error("empty document is not nil")
	}
}
