package inmem_test

import (
	"testing"

	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/pubsub"
	"foxhole.dev/foxhole/internal/pubsub/pubsubtest"
)

func TestHubContract(t *testing.T) {
	// Hubs in one process share one in-process hub.
	pubsubtest.Run(t, func(_ *testing.T, n int) []pubsub.Hub {
		h := inmem.NewHub()
		hubs := make([]pubsub.Hub, n)
		for i := range hubs {
			hubs[i] = h
		}
		return hubs
	})
}
