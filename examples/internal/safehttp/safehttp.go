// Package safehttp sends requests that carry credentials without leaking
// them: redirects are never followed (they would send the credentials to
// another address), plain http is allowed to loopback hosts only, a
// response body is read up to a bound, and errors quote neither a URL nor
// a body.
//
// It is shared by the apikey and oauth examples. Copying one of them? Copy
// this file along: it has no dependency outside the standard library.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds each request of the client Client(nil) returns.
const DefaultTimeout = 10 * time.Second

// MaxBody bounds how much of a response Do reads.
const MaxBody = 1 << 20

// Client returns a copy of c that refuses redirects, handing the redirect
// response itself to the caller. A nil c means a client with
// DefaultTimeout. The copy shares c's Transport, so it is cheap to make
// per request.
func Client(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	} else {
		cc.Timeout = DefaultTimeout
	}
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// Do sends req through Client(c) and returns the response's status and at
// most MaxBody bytes of its body. Its errors hold neither the URL nor the
// body.
func Do(c *http.Client, req *http.Request) (status int, body []byte, err error) {
	resp, err := Client(c).Do(req)
	if err != nil {
		return 0, nil, TransportError(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the response: %w", TransportError(err))
	}
	return resp.StatusCode, body, nil
}

// CheckURL parses an endpoint and rejects one credentials must not be sent
// to: not absolute, with user information or a fragment (or a query,
// unless allowQuery), or plain http to a host other than a loopback
// address. Its errors never quote the URL; they read well after a field
// name ("field \"endpoint\" " + err).
func CheckURL(raw string, allowQuery bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("is not a URL")
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, errors.New("is not an absolute http(s) URL")
	case u.User != nil:
		return nil, errors.New("must not carry user information")
	case u.Fragment != "" || (u.RawQuery != "" && !allowQuery):
		return nil, errors.New("must not have a query or fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, errors.New("uses plain http to a host that is not a loopback address; use https")
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TransportError drops the URL from a *url.Error (the endpoint is
// configuration, but a log is no place for addresses that may carry more)
// and says plainly when the request timed out.
func TransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var t interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout()) {
		return fmt.Errorf("the request timed out: %w", err)
	}
	return err
}
