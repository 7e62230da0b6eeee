package httpflat

import (
	"net/http"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/redial"
)

// HTTP2Config returns HTTP/2's ping health check derived from cfg: a ping
// after T/2 without a frame, the connection closed when it is not answered
// within 2T/5.
func HTTP2Config(cfg flatline.Config) (*http.HTTP2Config, error) {
	p, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	return &http.HTTP2Config{SendPingTimeout: p.Timeout / 2, PingTimeout: p.Timeout * 2 / 5}, nil
}

// Transport returns an http.Transport whose requests notice a dead server
// within cfg.Timeout (see the package documentation). Set its Protocols,
// TLS and pool options as usual; keep DialContext.
func Transport(cfg flatline.Config) (*http.Transport, error) {
	h2, err := HTTP2Config(cfg)
	if err != nil {
		return nil, err
	}
	d, err := redial.New(cfg)
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		DialContext:       d.DialContext,
		HTTP2:             h2,
		ForceAttemptHTTP2: true,
		Proxy:             http.ProxyFromEnvironment,
	}, nil
}
