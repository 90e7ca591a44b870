package sesconnector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

type notSuppressed struct{}

func (notSuppressed) GetSuppressedDestination(context.Context, *sesv2.GetSuppressedDestinationInput, ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	return nil, &types.NotFoundException{}
}

// BenchmarkSuppressionCheckWarm is what WithSuppressionCheck adds to a send once the answer
// for the address is cached.
func BenchmarkSuppressionCheckWarm(b *testing.B) {
	s := newSuppressionCheck(map[string]SuppressionAPI{"eu-west-1": notSuppressed{}}, time.Hour, 0, "")
	to := make([]string, 1024)
	for i := range to {
		to[i] = fmt.Sprintf("user%d@example.com", i)
		_ = s.check(context.Background(), "eu-west-1", to[i], nil)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.check(ctx, "eu-west-1", to[i%len(to)], nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
