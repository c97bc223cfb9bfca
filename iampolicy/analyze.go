package iampolicy

// Analysis is every verdict about one policy document, as `vigil iam
// analyze` prints it.
type Analysis struct {
	Public              Verdict      `json:"public"`
	Reasons             []string     `json:"reasons"`
	PublicStatements    []string     `json:"public_statements,omitempty"`
	PublicActions       []string     `json:"public_actions,omitempty"`
	CrossAccount        []Access     `json:"cross_account"`
	Admin               bool         `json:"admin"`
	FullIAM             bool         `json:"full_iam"`
	PrivilegeEscalation []Escalation `json:"privilege_escalation"`
}

// Analyze runs the public, cross-account and (for identity policies:
// ResourceType "" or "identity") admin analyses on one document.
func Analyze(p *Policy, o Options) Analysis {
	identity := o.ResourceType == "" || o.ResourceType == "identity"
	if o.ResourceType == "identity" {
		o.ResourceType = ""
	}
	var a Analysis
	if identity && !hasPrincipals(p) {
		a.Public = NotPublic
		a.Reasons = []string{"an identity policy grants nothing to anyone else"}
		a.CrossAccount = []Access{}
	} else {
		pub := IsPublic(p, o)
		a.Public, a.Reasons, a.PublicStatements, a.PublicActions = pub.Verdict, pub.Reasons, pub.Statements, pub.Actions
		var complete bool
		a.CrossAccount, complete = CrossAccount(p, o)
		if a.CrossAccount == nil {
			a.CrossAccount = []Access{}
		}
		if !complete {
			a.Reasons = append(a.Reasons, "the cross-account analysis ran out of budget; the list may be incomplete")
		}
	}
	a.PrivilegeEscalation = []Escalation{}
	if identity {
		pr := AnalyzePrincipal([]*Policy{p}, nil)
		a.Admin, a.FullIAM, a.PrivilegeEscalation = pr.Admin, pr.FullIAM, pr.Escalations
		a.Reasons = append(a.Reasons, pr.Reasons...)
	}
	return a
}

// hasPrincipals reports whether some statement names principals, as only
// resource policies do.
func hasPrincipals(p *Policy) bool {
	for _, s := range p.Statements {
		if s.Principal != nil || s.NotPrincipal != nil {
			return true
		}
	}
	return false
}
