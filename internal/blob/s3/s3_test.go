package s3_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/blob/blobtest"
	"foxhole.dev/foxhole/internal/blob/s3"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestContract(t *testing.T) {
	m := testutil.StartMinIO(t)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// A bucket per case, created by New as a missing bucket would be.
		s, err := s3.New(context.Background(), s3.Options{
			Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey,
			Bucket: fmt.Sprintf("contract-%d", n.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
