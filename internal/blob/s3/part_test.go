package s3

import "testing"

// An upload of unknown length holds one part in memory: the smallest S3
// takes, unless the largest object needs more than 10,000 of them.
func TestPartSize(t *testing.T) {
	for _, tc := range []struct{ max, want int64 }{
		{1 << 20, MinPartSize},
		{1 << 30, MinPartSize},
		{50 << 30, 6 << 20},
		{1 << 40, 105 << 20},
	} {
		if got := partSize(tc.max); int64(got) != tc.want || int64(got)*maxParts < tc.max {
			t.Errorf("partSize(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}
