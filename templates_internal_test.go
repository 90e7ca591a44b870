package sesconnector

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A valid config always has a Generic template without locale, so New never builds a Connector
// without a fallback; this test covers the error for the day that guarantee is broken.
func TestTemplateNotFound(t *testing.T) {
	t.Parallel()
	c := &Connector{templates: newTemplateSet([]Template{{UsageType: UsageSignIn, Locale: "pt", Subject: "s", Content: "c"}})}
	ct, err := c.template(context.Background(), UsageRegister, "pt")
	require.Nil(t, ct)
	require.ErrorIs(t, err, ErrTemplateNotFound)
	require.EqualError(t, err, `sesconnector: template not found: no template for usage type Register, locale "pt", and no Generic template`)

	ct, err = c.template(context.Background(), UsageSignIn, "pt-BR")
	require.NoError(t, err)
	require.Equal(t, "s", ct.subject.segs[0].literal)
}
