package bulk

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestAppendNumeric holds appendNumeric to pgx's numeric codec, byte for
// byte, on the values where decimals change shape (zeros, scales around
// multiples of 4, the extremes, the special values) and on random ones:
// COPY sends what GORM's parameter would.
func TestAppendNumeric(t *testing.T) {
	m := pgtype.NewMap()
	check := func(f float64) {
		t.Helper()
		want, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, f, nil)
		if err != nil {
			t.Fatalf("pgx: %v: %v", f, err)
		}
		if got := appendNumeric(nil, f); !bytes.Equal(got, want) {
			t.Fatalf("%v (%b): got %x, pgx %x", f, math.Float64bits(f), got, want)
		}
	}
	values := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1.5, 10, 100, 1000, 10000, 100000, 1e20, 1e21, 1e22,
		0.1, 0.01, 0.001, 0.0001, 0.00001, 1.0001, 10000.5, 12345678.9, 0.00005, 1.0 / 3, 2.0 / 3, -1e-7,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		math.MaxInt64, math.MinInt64, 1 << 53, 0x1p-1022, math.NaN(), math.Inf(1), math.Inf(-1),
		float64(float32(0.1)), float64(float32(math.MaxFloat32))}
	for e := -30; e <= 30; e++ {
		values = append(values, math.Pow10(e), -3*math.Pow10(e), 7.25*math.Pow10(e))
	}
	for _, f := range values {
		check(f)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		check(math.Float64frombits(r.Uint64()))            // any bits: mostly huge or tiny
		check(float64(r.IntN(2_000_000)-1_000_000) / 100)  // money
		check(r.NormFloat64() * math.Pow10(r.IntN(40)-20)) // any scale
		check(float64(float32(r.Float64() * 1000)))        // a float32 widened
	}
}

func BenchmarkAppendNumeric(b *testing.B) {
	m := pgtype.NewMap()
	buf := make([]byte, 0, 64)
	b.Run("gormbulk", func(b *testing.B) {
		for i := range b.N {
			buf = appendNumeric(buf[:0], float64(i)/3)
		}
	})
	b.Run("pgx", func(b *testing.B) {
		for i := range b.N {
			buf, _ = m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, float64(i)/3, buf[:0])
		}
	})
}
