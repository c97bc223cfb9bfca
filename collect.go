package vigil

import "context"

// Collector reads one provider's resources for an account and streams them
// into a Sink. Implementations do their own fan-out over regions and
// services, bounded and rate-limited.
type Collector interface {
	// Collect streams every resource of acct into sink. It returns an error
	// only when nothing could be collected (bad credentials, unreachable
	// endpoint); failed reads of single listings or properties are reported
	// to the sink as ReadErrors and collection goes on.
	Collect(ctx context.Context, acct Account, sink Sink) error
}

// Sink receives what a collector finds, as it finds it.
type Sink interface {
	// Resource takes one collected resource. It may block to apply
	// backpressure and returns an error once the scan is cancelled.
	Resource(ctx context.Context, r Resource) error
	// ReadError records a read that failed. With UID empty and Type set, a
	// whole listing failed and every check of that type must yield error;
	// the error's UID then names the account or region resource the
	// results are reported on (see ListingFailure).
	ReadError(e ReadError)
	// Listed records a listing that completed, so that resources in its
	// scope not seen are known to be gone.
	Listed(s Scope)
	// Progress reports the state of one unit of work.
	Progress(p Progress)
}

// Progress is the state of one account × region × service unit of work.
type Progress struct {
	Account   string
	Region    string
	Service   string
	Done      bool
	Resources int
	Errors    int
}
