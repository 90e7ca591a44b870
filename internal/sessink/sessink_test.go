package sessink

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerCountsRenderedCodes(t *testing.T) {
	h := &Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, subject := range []string{"Your code is 123456", "Your code is 7", "Your code is {{code}}"} {
		body := `{"Content":{"Simple":{"Subject":{"Data":"` + subject + `"}}}}`
		resp, err := http.Post(srv.URL+"/v2/email/outbound-emails", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, Stats{Requests: 3, Rendered: 2, CodeSum: 123463}, h.Stats())
	resp, err := http.Get(srv.URL + "/reset")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, Stats{}, h.Stats())
}
