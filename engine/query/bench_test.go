package query

import "testing"

func BenchmarkParseFilter(b *testing.B) {
	fields := testFields()
	src := `status in ["new", "contacted"] and score >= 50 and createdAt > "2026-01-01" and name startsWith "Iv"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(src, fields); err != nil {
			b.Fatal(err)
		}
	}
}
