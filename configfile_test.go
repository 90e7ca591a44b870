package sesconnector_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// LoadConfig reads regular files only, at most MaxConfigSize, and never waits on what it opens.
func TestLoadConfigRefusesWhatIsNoConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ses.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(big, []byte(`{"region":"`+strings.Repeat("x", ses.MaxConfigSize)+`"}`), 0o600))
	cases := map[string]struct{ path, says string }{
		"a named pipe with no writer": {fifo, "not a regular file (a named pipe)"},
		"a directory":                 {dir, "not a regular file (a directory)"},
		"a device that never ends":    {"/dev/zero", "not a regular file (a device)"},
		"over MaxConfigSize":          {big, "over the 4194304 of MaxConfigSize"},
	}
	for name, c := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := ses.LoadConfig(c.path)
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorIs(t, err, ses.ErrInvalidConfig, name)
			assert.Contains(t, err.Error(), "cannot read "+c.path+": ", name)
			assert.Contains(t, err.Error(), c.says, name)
			assert.Less(t, len(err.Error()), 300, name)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: LoadConfig did not return", name)
		}
	}
}

// A problem quotes at most 100 bytes of a bad value, however long the value.
func TestProblemsQuoteLittleOfABadValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ü", 50_000)
	doc := `{"region":"` + long + `","emailAddress":"` + long + `@example.com","configurationSetName":"` + long +
		`","templates":[{"usageType":"` + long + `","subject":"s","content":"c","locale":"` + long + `","headers":{"` + long + `":"v"}},` +
		`{"usageType":"Generic","subject":"s","content":"c"}],"` + long + `":1}`
	_, err := ses.ParseConfig([]byte(doc))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	var cerr *ses.ConfigError
	require.ErrorAs(t, err, &cerr)
	require.GreaterOrEqual(t, len(cerr.Problems), 6)
	for _, p := range cerr.Problems {
		assert.Less(t, len(p.String()), 600, "%.200s", p.String())
		assert.NotContains(t, p.String(), strings.Repeat("ü", 60))
	}
}
