package store

import (
	"math/rand/v2"
	"testing"
	"time"
)

// AppendTimestamp must write what AppendFormat writes for every instant:
// edges of days, months, leap years and its own range, and random ones.
func TestAppendTimestampMatchesAppendFormat(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []time.Time{
		time.Unix(0, 0), time.Unix(0, 999), time.Unix(-1, 0), time.Unix(0, -1000),
		at("1999-12-31T23:59:59.999999999Z"), at("2000-02-29T12:00:00Z"), at("2000-03-01T00:00:00Z"),
		at("2100-02-28T23:59:59.5Z"), at("2100-03-01T00:00:00Z"), at("2400-02-29T00:00:00Z"),
		at("9999-12-31T23:59:59.999999Z"), at("9999-12-31T23:59:59.999999999Z"),
		at("0001-01-01T00:00:00Z"), at("1600-02-29T01:02:03.000004Z"),
		time.UnixMicro(year10000), time.UnixMicro(year10000 - 1), time.UnixMicro(year10000 + 1),
		time.Date(2026, 12, 6, 20, 0, 0, 0, time.FixedZone("x", 5*3600+1800)),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		cases = append(cases, time.Unix(0, 0).Add(time.Duration(rng.Int64N(int64(1<<62)))*2).Add(-time.Duration(rng.Int64N(1<<40))))
		cases = append(cases, time.UnixMicro(rng.Int64N(year10000)))
	}
	for _, c := range cases {
		got, want := string(AppendTimestamp([]byte("x"), c)), "x"+c.UTC().Format(TimeLayout)
		if got != want {
			t.Fatalf("AppendTimestamp(%v) = %s, want %s", c, got, want)
		}
	}
}

func BenchmarkAppendTimestamp(b *testing.B) {
	buf := make([]byte, 0, 64)
	now := time.Now()
	for b.Loop() {
		buf = AppendTimestamp(buf[:0], now)
	}
}

func BenchmarkAppendFormat(b *testing.B) {
	buf := make([]byte, 0, 64)
	now := time.Now()
	for b.Loop() {
		buf = now.UTC().AppendFormat(buf[:0], TimeLayout)
	}
}

// TestPlainPrefix: skipping the plain prefix changes nothing, whatever byte
// stands wherever in the first 8-byte words.
func TestPlainPrefix(t *testing.T) {
	for c := range 256 {
		for at := range 20 {
			b := []byte("abcdefghijklmnopqrstuvwx")
			b[at] = byte(c)
			s := string(b)
			if got, want := string(appendJSONString(nil, s)), string(appendJSONStringFrom(nil, s, 0)); got != want {
				t.Fatalf("byte %#x at %d: %s, want %s", c, at, got, want)
			}
			if p := plainPrefix(s); p > at && (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) {
				t.Fatalf("byte %#x at %d: plain prefix %d runs over it", c, at, p)
			}
		}
	}
}
