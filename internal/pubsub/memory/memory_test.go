package memory_test

import (
	"testing"

	"foxhole.dev/foxhole/internal/pubsub"
	"foxhole.dev/foxhole/internal/pubsub/memory"
	"foxhole.dev/foxhole/internal/pubsub/pubsubtest"
)

func TestContract(t *testing.T) {
	// Hubs in one process share one in-process hub.
	pubsubtest.Run(t, func(_ *testing.T, n int) []pubsub.Hub {
		h := memory.New()
		hubs := make([]pubsub.Hub, n)
		for i := range hubs {
			hubs[i] = h
		}
		return hubs
	})
}
