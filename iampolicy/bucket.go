package iampolicy

import "strings"

// ACL grantee groups that make an S3 grant public.
const (
	AllUsersGroup           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsersGroup = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

// Grant is one S3 ACL grant: the grantee's group URI (or id) and the
// permission (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL).
type Grant struct {
	Grantee    string
	Permission string
}

// ACLAccess is what an ACL gives the public.
type ACLAccess struct {
	Public, Read, Write bool
	Reasons             []string
}

// PublicACL decides whether ACL grants are public: any permission granted
// to AllUsers (anyone) or AuthenticatedUsers (any AWS account) is. READ and
// FULL_CONTROL read; WRITE, WRITE_ACP and FULL_CONTROL write (WRITE_ACP
// lets anyone grant themselves the rest).
func PublicACL(grants []Grant) ACLAccess {
	var out ACLAccess
	for _, g := range grants {
		who := ""
		switch g.Grantee {
		case AllUsersGroup:
			who = "AllUsers (anyone)"
		case AuthenticatedUsersGroup:
			who = "AuthenticatedUsers (any AWS account)"
		default:
			continue
		}
		out.Public = true
		switch strings.ToUpper(g.Permission) {
		case "FULL_CONTROL":
			out.Read, out.Write = true, true
		case "READ":
			out.Read = true
		case "WRITE", "WRITE_ACP":
			out.Write = true
		}
		out.Reasons = append(out.Reasons, "the ACL grants "+g.Permission+" to "+who)
	}
	return out
}

// BlockPublicAccess is an S3 Block Public Access configuration.
type BlockPublicAccess struct {
	BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets bool
}

// Effective combines bucket and account settings: S3 applies the most
// restrictive combination.
func (b BlockPublicAccess) Effective(account BlockPublicAccess) BlockPublicAccess {
	return BlockPublicAccess{
		BlockPublicAcls:       b.BlockPublicAcls || account.BlockPublicAcls,
		IgnorePublicAcls:      b.IgnorePublicAcls || account.IgnorePublicAcls,
		BlockPublicPolicy:     b.BlockPublicPolicy || account.BlockPublicPolicy,
		RestrictPublicBuckets: b.RestrictPublicBuckets || account.RestrictPublicBuckets,
	}
}

// Exposure is a bucket's effective public exposure.
type Exposure struct {
	Public   Verdict  `json:"public"`
	ByPolicy Verdict  `json:"by_policy"`
	ByACL    bool     `json:"by_acl"`
	Reasons  []string `json:"reasons"`
}

// BucketExposure decides whether a bucket is public in effect: its policy
// is public and RestrictPublicBuckets is off (it limits a public policy to
// the owner account and AWS services), or its ACL is public and
// IgnorePublicAcls is off. BlockPublicAcls and BlockPublicPolicy only
// stop new grants and do not change existing ones. policy may be nil (no
// bucket policy).
func BucketExposure(policy *Policy, o Options, acl []Grant, bpa BlockPublicAccess) Exposure {
	out := Exposure{ByPolicy: NotPublic, Public: NotPublic}
	if policy != nil {
		r := IsPublic(policy, o)
		out.ByPolicy = r.Verdict
		switch {
		case r.Verdict == Public && bpa.RestrictPublicBuckets:
			out.Reasons = append(out.Reasons, "the policy is public but RestrictPublicBuckets limits it to the owner account and AWS services")
			out.ByPolicy = NotPublic
		default:
			out.Reasons = append(out.Reasons, r.Reasons...)
		}
	}
	a := PublicACL(acl)
	if a.Public && bpa.IgnorePublicAcls {
		out.Reasons = append(out.Reasons, "the ACL is public but IgnorePublicAcls makes S3 ignore it")
	} else if a.Public {
		out.ByACL = true
		out.Reasons = append(out.Reasons, a.Reasons...)
	}
	switch {
	case out.ByPolicy == Public || out.ByACL:
		out.Public = Public
	case out.ByPolicy == Unknown:
		out.Public = Unknown
	}
	return out
}

// RequiresTLS reports whether a bucket policy explicitly denies every
// request made without TLS (aws:SecureTransport false) to the bucket and
// its objects, whoever makes it — strangers and principals of account, the
// owner — and whatever else the request carries.
func RequiresTLS(p *Policy, bucketARN, account string) bool {
	sp := &space{policies: []*Policy{p}, escape: true, budget: defaultBudget,
		fixed: map[string][]string{"aws:securetransport": {"false"}}}
	who := []Principal{
		{Kind: Anonymous},
		{Kind: AWSPrincipal, ID: "arn:aws:iam::" + freshAcct + ":root", Account: freshAcct},
	}
	if isAccountID(account) {
		who = append(who, AWS(account))
	}
	actions := actionCandidates([]*Policy{p}, "s3", nil)
	actions = append(actions, actionCandidate{value: "s3:getobject"}, actionCandidate{value: "s3:putobject"}, actionCandidate{value: "s3:listbucket"})
	for _, pr := range who {
		for _, a := range actions {
			for _, r := range []string{bucketARN, bucketARN + "/" + freshStar} {
				if !s3Fits(a.value, r) {
					continue
				}
				if _, res := sp.find(pr, a.value, r); res != notFound {
					return false
				}
			}
		}
	}
	return true
}
