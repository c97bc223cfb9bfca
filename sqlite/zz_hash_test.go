package sqlite

import "testing"

func BenchmarkZZHash(b *testing.B) {
	r := fakeResources("x", 1, 0)[0]
	for b.Loop() {
		r.Hash = ""
		r.ComputeHash()
	}
}

func BenchmarkZZEncode(b *testing.B) {
	r := fakeResources("x", 1, 0)[0]
	for b.Loop() {
		encodeResource(r)
	}
}
