package memory_test

import (
	"testing"

	"foxhole.dev/foxhole/internal/pubsub"
	"foxhole.dev/foxhole/internal/pubsub/memory"
	"foxhole.dev/foxhole/internal/pubsub/pubsubtest"
)

func TestContract(t *testing.T) {
	pubsubtest.Run(t, func(*testing.T) pubsub.Hub { return memory.New() })
}
