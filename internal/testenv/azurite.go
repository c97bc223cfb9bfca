package testenv

import (
	"testing"

	"github.com/vigilsec/vigil/internal/azurite"
)

// The well-known development account every Azurite serves; its key is
// public (Microsoft documents it), so it is no secret.
const (
	AzuriteAccount = azurite.Account
	AzuriteKey     = azurite.Key
)

// Azurite is a running Azurite: Microsoft's emulator of Azure Storage's
// blob, queue and table services. Tests reach it with the storage SDKs
// and the shared key of AzuriteAccount.
type Azurite = azurite.Server

// StartAzurite starts Azurite on free loopback ports, in memory, with the
// extra flags; it stops when the test ends. A missing binary fails the
// test: `make deps` installs it.
func StartAzurite(t testing.TB, flags ...string) *Azurite {
	t.Helper()
	s, err := azurite.Start(flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}
