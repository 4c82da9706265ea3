// Package bytesize parses and formats byte sizes as sup's config and
// output spell them: "512MiB", "1 GB", a bare number of bytes.
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// units are the units a size accepts, in the order the error lists them.
var units = []struct {
	name string
	mult int64
}{
	{"B", 1},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
}

// parseSize parses "512MiB", "1 GB" or a bare number of bytes.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	rest := strings.TrimLeft(t, "0123456789")
	num, unit := t[:len(t)-len(rest)], strings.TrimSpace(rest)
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errUnit(s)
	}
	if unit == "" {
		unit = "B"
	}
	for _, u := range units {
		if strings.EqualFold(u.name, unit) {
			if err != nil || n > math.MaxInt64/u.mult {
				return 0, fmt.Errorf("size %q is too large", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, errUnit(s)
}

func errUnit(s string) error {
	names := make([]string, len(units))
	for i, u := range units {
		names[i] = u.name
	}
	return fmt.Errorf("invalid size %q: use a whole number with a unit, one of %s, e.g. \"512MiB\"",
		s, strings.Join(names, ", "))
}

// FormatSize prints n bytes as sizes are written in process files, in the
// largest binary unit not above n: whole when the unit divides n ("512MiB",
// "1023B"), else to one decimal ("35.8MiB", "1.5GiB"). supd --check,
// health reasons and the MEM column of supctl status all use it.
func Format(n int64) string {
	bins := [...]struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range bins {
		switch {
		case n < u.size:
			continue
		case n%u.size == 0:
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
		return strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64) + u.name
	}
	return strconv.FormatInt(n, 10) + "B"
}
