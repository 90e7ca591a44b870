package sesconnector_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's usage example is examples/quickstart/main.go, which go vet and go build compile;
// this test keeps the two the same.
func TestReadmeUsageCompiles(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	program, err := os.ReadFile("examples/quickstart/main.go")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```go\n"+string(program)+"```\n",
		"README.md's Usage block must be examples/quickstart/main.go, byte for byte")
	require.True(t, strings.Contains(string(program), "package main"))
}
