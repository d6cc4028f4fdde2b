package oauthclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Register sends client metadata to the server's registration endpoint
// (RFC 7591 §3.1), with initialToken as a Bearer token when it is set,
// and returns the client information response of a 201 (§3.2.1) as JSON.
func (c *Client) Register(ctx context.Context, initialToken string, metadata any) ([]byte, error) {
	endpoint := c.md.RegistrationEndpoint
	if endpoint == "" {
		return nil, errors.New("the server's metadata names no registration_endpoint: it does not offer dynamic client registration")
	}
	body, err := json.Marshal(metadata)
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if initialToken != "" {
		req.Header.Set("Authorization", "Bearer "+initialToken)
	}
	c.tracer.Step("the client registers itself (RFC 7591)")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("registration: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, oauthError(resp.StatusCode, out)
	}
	return out, nil
}
