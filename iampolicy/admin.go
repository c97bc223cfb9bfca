package iampolicy

import (
	"strings"
)

// Escalation is a documented privilege-escalation path that the policies
// allow: every permission it needs is allowed on some resource.
type Escalation struct {
	// Path names the path: its permissions joined by "+".
	Path        string   `json:"path"`
	Permissions []string `json:"permissions"`
	Statements  []string `json:"statements"`
	Description string   `json:"description"`
}

// escalationPath is one known way to gain more permissions.
type escalationPath struct {
	perms []string
	how   string
	// everywhere: the permissions must cover every resource (assuming one
	// role is not an escalation; assuming any role is).
	everywhere bool
	// target limits the resources that count.
	target target
}

// target is which resources an escalation permission must be allowed on.
type target int

const (
	anyTarget target = iota
	otherUser        // a user other than oneself (keys, passwords)
	anyRole          // every role, or a wildcard family: passing one named role may be by design
)

// selfName is the analyzed principal's user name in the search.
const selfName = "\x01self"

// accepts reports whether a candidate resource is of the target kind.
func (t target) accepts(r string) bool {
	switch t {
	case otherUser:
		return !strings.HasSuffix(r, "user/"+selfName) && !strings.HasSuffix(r, "/"+selfName)
	case anyRole:
		if r == freshStar || r == freshResource {
			return true
		}
		_, name, ok := strings.Cut(r, ":role/")
		return ok && strings.Contains(name, freshStar)
	}
	return true
}

// escalationPaths are the documented IAM privilege-escalation methods
// (Rhino Security Labs' catalogue and AWS's own guidance on iam:PassRole).
var escalationPaths = []escalationPath{
	{perms: []string{"iam:CreatePolicyVersion"}, how: "write a new default version of a policy attached to oneself"},
	{perms: []string{"iam:SetDefaultPolicyVersion"}, how: "switch an attached policy to a more permissive old version"},
	{perms: []string{"iam:CreateAccessKey"}, how: "create access keys for another user", target: otherUser},
	{perms: []string{"iam:CreateLoginProfile"}, how: "set a console password for another user", target: otherUser},
	{perms: []string{"iam:UpdateLoginProfile"}, how: "change another user's console password", target: otherUser},
	{perms: []string{"iam:AttachUserPolicy"}, how: "attach any managed policy (AdministratorAccess) to a user"},
	{perms: []string{"iam:AttachGroupPolicy"}, how: "attach any managed policy to a group one is in"},
	{perms: []string{"iam:AttachRolePolicy", "sts:AssumeRole"}, how: "attach any managed policy to a role and assume it"},
	{perms: []string{"iam:PutUserPolicy"}, how: "write an inline policy on a user"},
	{perms: []string{"iam:PutGroupPolicy"}, how: "write an inline policy on a group one is in"},
	{perms: []string{"iam:PutRolePolicy", "sts:AssumeRole"}, how: "write an inline policy on a role and assume it"},
	{perms: []string{"iam:AddUserToGroup"}, how: "join a more privileged group"},
	{perms: []string{"iam:UpdateAssumeRolePolicy", "sts:AssumeRole"}, how: "rewrite a role's trust policy and assume it"},
	{perms: []string{"iam:PassRole", "ec2:RunInstances"}, how: "launch an instance with a privileged role and use its credentials"},
	{perms: []string{"iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"}, how: "create and invoke a function running as a privileged role"},
	{perms: []string{"iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"}, how: "create a function running as a privileged role and trigger it from an event source"},
	{perms: []string{"lambda:UpdateFunctionCode"}, how: "replace the code of a function that runs as a privileged role"},
	{perms: []string{"iam:PassRole", "glue:CreateDevEndpoint"}, how: "create a Glue development endpoint with a privileged role"},
	{perms: []string{"glue:UpdateDevEndpoint"}, how: "add an SSH key to a Glue endpoint running as a privileged role"},
	{perms: []string{"iam:PassRole", "cloudformation:CreateStack"}, how: "create a stack that runs as a privileged role"},
	{perms: []string{"iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"}, how: "run a pipeline as a privileged role"},
	{perms: []string{"iam:PassRole", "ecs:RunTask", "ecs:RegisterTaskDefinition"}, how: "run a container task as a privileged role"},
	{perms: []string{"iam:PassRole", "sagemaker:CreateNotebookInstance"}, how: "create a notebook running as a privileged role"},
	{perms: []string{"iam:PassRole", "codebuild:CreateProject", "codebuild:StartBuild"}, how: "run a build as a privileged role"},
	{perms: []string{"ssm:SendCommand"}, how: "run commands on instances whose roles are more privileged"},
	{perms: []string{"ssm:StartSession"}, how: "open a shell on instances whose roles are more privileged"},
	{perms: []string{"ec2-instance-connect:SendSSHPublicKey"}, how: "log in to instances whose roles are more privileged"},
	{perms: []string{"sts:AssumeRole"}, how: "assume any role that trusts the account", everywhere: true},
}

// PrincipalResult is what the union of a principal's identity policies,
// within its permissions boundary, lets it do.
type PrincipalResult struct {
	// Admin: every action on every resource ("*:*", also through
	// NotAction and several statements together).
	Admin bool `json:"admin"`
	// FullIAM: every IAM action on every resource.
	FullIAM bool `json:"full_iam"`
	// Escalations are the privilege-escalation paths open to it (empty
	// when Admin: there is nothing left to escalate to).
	Escalations []Escalation `json:"privilege_escalation"`
	// Undecided is set when the search budget ran out: answers that are
	// false may be wrong.
	Undecided bool     `json:"undecided,omitempty"`
	Reasons   []string `json:"reasons"`
}

// AnalyzePrincipal decides admin, full IAM access and privilege
// escalation for the identity policies of one user, group or role taken
// together, limited by boundary (nil when there is none). Explicit Denies
// in any of them win; conditions are assumed satisfiable, as a principal
// may meet them (sign in with MFA, call from the allowed network).
func AnalyzePrincipal(policies []*Policy, boundary *Policy) PrincipalResult {
	me := Principal{Kind: AWSPrincipal, ID: "arn:aws:iam::" + freshAcct + ":user/" + selfName, Account: freshAcct}
	// The keys that describe the caller are the principal's own: a grant
	// on user/${aws:username} is a grant on oneself.
	sp := &space{policies: policies, boundary: boundary, budget: defaultBudget * 4, fixed: map[string][]string{
		"aws:username": {selfName}, "aws:principalarn": {me.ID}, "aws:principalaccount": {freshAcct},
		"aws:userid": {"AIDA" + selfName}, "aws:principaltype": {"User"},
	}}
	all := append(append([]*Policy(nil), policies...), nonNil(boundary)...)
	var res PrincipalResult
	undecided := false
	// allowedAll reports whether every action candidate of service is
	// allowed on any resource.
	allowedAll := func(service string) (bool, []string) {
		var names []string
		seen := map[string]bool{}
		for _, a := range excludedActions(all, service) {
			for _, res := range excludedResources(all) {
				w, r := sp.find(me, a, res)
				if r == exhausted {
					undecided = true
				}
				if r != found {
					return false, nil
				}
				for _, s := range w.allowing {
					if !seen[s.Name()] {
						seen[s.Name()] = true
						names = append(names, s.Name())
					}
				}
			}
		}
		return true, names
	}
	if ok, stmts := allowedAll(""); ok {
		res.Admin, res.FullIAM = true, true
		res.Reasons = append(res.Reasons, "allows every action on every resource ("+strings.Join(stmts, ", ")+")")
	} else if ok, stmts := allowedAll("iam"); ok {
		res.FullIAM = true
		res.Reasons = append(res.Reasons, "allows every IAM action on every resource ("+strings.Join(stmts, ", ")+")")
	}
	if !res.Admin {
		for _, path := range escalationPaths {
			esc := Escalation{Path: strings.Join(path.perms, "+"), Permissions: path.perms, Description: path.how}
			ok := true
			seen := map[string]bool{}
			for _, perm := range path.perms {
				resources := sp.resourcesFor(me, perm, "")
				if path.everywhere {
					resources = excludedResources(all)
				}
				tg := path.target
				if perm == "iam:PassRole" {
					tg = anyRole
				}
				var w *witness
				for _, r := range resources {
					if !tg.accepts(r) {
						continue
					}
					var res searchResult
					if w, res = sp.find(me, perm, r); res == found {
						break
					} else if res == exhausted {
						undecided = true
					}
					w = nil
				}
				if w == nil {
					ok = false
					break
				}
				for _, s := range w.allowing {
					if !seen[s.Name()] {
						seen[s.Name()] = true
						esc.Statements = append(esc.Statements, s.Name())
					}
				}
			}
			if ok {
				res.Escalations = append(res.Escalations, esc)
				res.Reasons = append(res.Reasons, "privilege escalation by "+esc.Path+": "+path.how)
			}
		}
	}
	res.Undecided = undecided
	if res.Escalations == nil {
		res.Escalations = []Escalation{}
	}
	if len(res.Reasons) == 0 {
		res.Reasons = []string{"neither administrator access nor a known privilege-escalation path"}
	}
	return res
}

// GrantsAdmin reports whether one identity policy on its own allows every
// action on every resource.
func GrantsAdmin(p *Policy) bool { return AnalyzePrincipal([]*Policy{p}, nil).Admin }

// excludedActions are the actions that must all be allowed for "every
// action" of a service ("" for all services): one action no policy names,
// and every action the policies deny or leave out through NotAction.
func excludedActions(policies []*Policy, service string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if service == "" {
		add("vigil" + freshStar + ":" + freshStar)
	} else {
		add(service + ":" + freshStar)
	}
	for _, p := range policies {
		for _, s := range p.Statements {
			if s.Effect != Deny && !s.Actions.Not {
				continue
			}
			for i := range s.actions {
				if v, ok := actionFor(&s.actions[i], service); ok {
					add(v)
				}
			}
		}
	}
	return out
}

// excludedResources are the resources that must all be allowed for
// "every resource": one no policy names, and each resource a Deny names or
// an Allow leaves out through NotResource.
func excludedResources(policies []*Policy) []string {
	out := []string{freshResource}
	seen := map[string]bool{freshResource: true}
	for _, p := range policies {
		for _, s := range p.Statements {
			if s.Effect != Deny && !s.Resources.Not {
				continue
			}
			for i := range s.resources {
				v := instantiate(&s.resources[i], func(string) ([]string, keyState) { return nil, absent })
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func nonNil(p *Policy) []*Policy {
	if p == nil {
		return nil
	}
	return []*Policy{p}
}
