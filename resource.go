package vigil

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Resource is one cloud resource as collected: its identity, tags and a JSON
// properties document whose schema per type is documented in docs/resources.md.
//
// Properties that could not be read are absent from Properties and listed in
// ReadErrors, so that a check depending on them yields StatusError, never a pass.
type Resource struct {
	UID         string            `json:"uid"`
	Provider    Provider          `json:"provider"`
	Account     string            `json:"account"`
	Region      string            `json:"region"`
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	Tags        map[string]string `json:"tags,omitempty"`
	Properties  map[string]any    `json:"properties"`
	ReadErrors  []ReadError       `json:"read_errors,omitempty"`
	CollectedAt time.Time         `json:"collected_at"`
	Hash        string            `json:"hash,omitempty"`
}

// ReadError records a property of a resource, or a whole listing, that could
// not be read: the property path (dot-separated, "" for the whole resource
// type), the API operation, a classified code and the provider's message.
type ReadError struct {
	Account   string `json:"account,omitempty"`
	Region    string `json:"region,omitempty"`
	Type      string `json:"type,omitempty"`
	UID       string `json:"uid,omitempty"`
	Property  string `json:"property,omitempty"`
	Operation string `json:"operation"`
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// String renders the failed call on one line: operation, code, message.
func (e ReadError) String() string {
	var b strings.Builder
	b.WriteString(e.Operation)
	b.WriteString(": " + e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// ComputeHash sets and returns the content hash over everything that
// describes the resource's configuration: name, tags, properties and read
// errors. The collection time is excluded so that an unchanged resource keeps
// its hash.
func (r *Resource) ComputeHash() string {
	errs := append([]ReadError(nil), r.ReadErrors...)
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Property != errs[j].Property {
			return errs[i].Property < errs[j].Property
		}
		return errs[i].Operation < errs[j].Operation
	})
	// encoding/json sorts map keys, which makes the encoding canonical.
	b, _ := json.Marshal(struct {
		Name       string            `json:"n"`
		Tags       map[string]string `json:"t"`
		Properties map[string]any    `json:"p"`
		ReadErrors []ReadError       `json:"e"`
	}{r.Name, r.Tags, r.Properties, errs})
	sum := sha256.Sum256(b)
	r.Hash = hex.EncodeToString(sum[:])
	return r.Hash
}

// ReadErrorFor returns the read error that covers the property path p: one
// recorded for p itself, for an ancestor of p, or for a descendant of p.
func (r *Resource) ReadErrorFor(p string) (ReadError, bool) {
	for _, e := range r.ReadErrors {
		if e.Property == "" || e.Property == p ||
			strings.HasPrefix(p, e.Property+".") || strings.HasPrefix(e.Property, p+".") {
			return e, true
		}
	}
	return ReadError{}, false
}

// Version is one observed state of a resource: written whenever its content
// hash changes, with the diff from the previous version.
type Version struct {
	UID        string    `json:"uid"`
	Seq        int       `json:"seq"`
	Hash       string    `json:"hash"`
	ObservedAt time.Time `json:"observed_at"`
	ScanID     string    `json:"scan_id,omitempty"`
	// Actor is the ARN (or Azure principal) of who made the change, when
	// an event told; Cause is that event.
	Actor    string   `json:"actor,omitempty"`
	Cause    *Cause   `json:"cause,omitempty"`
	Deleted  bool     `json:"deleted,omitempty"`
	Resource Resource `json:"resource"`
	Diff     []DiffOp `json:"diff,omitempty"`
}

// DiffOp is one difference between two JSON documents: an added, removed or
// replaced value at a JSON Pointer path.
type DiffOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// Overlay returns r with a partial re-read laid over it: each top-level
// property the re-read set or failed to read (a read error on it or below
// it) replaces r's, with its read errors; every other property and read
// error stays. Account and region settings resources are re-read this way,
// one service's settings at a time.
func (r Resource) Overlay(partial Resource) Resource {
	top := func(p string) string { t, _, _ := strings.Cut(p, "."); return t }
	owned := map[string]bool{}
	for k := range partial.Properties {
		owned[k] = true
	}
	for _, e := range partial.ReadErrors {
		owned[top(e.Property)] = true
	}
	out := r
	out.Properties = make(map[string]any, len(r.Properties)+len(partial.Properties))
	for k, v := range r.Properties {
		if !owned[k] {
			out.Properties[k] = v
		}
	}
	for k, v := range partial.Properties {
		out.Properties[k] = v
	}
	out.ReadErrors = nil
	for _, e := range r.ReadErrors {
		if !owned[top(e.Property)] {
			out.ReadErrors = append(out.ReadErrors, e)
		}
	}
	out.ReadErrors = append(out.ReadErrors, partial.ReadErrors...)
	out.CollectedAt = partial.CollectedAt
	out.Hash = ""
	return out
}
