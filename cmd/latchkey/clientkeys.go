package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// readJWKS reads the public keys of a private_key_jwt client for client
// create --jwks-file: a JWK Set as JSON, one JWK, or a PEM public key
// ("PUBLIC KEY"), each made a JWK Set whose keys have a kid (the key's RFC
// 7638 thumbprint when it has none). Validation then checks the set as
// the config file's jwks.
func readJWKS(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--jwks-file: %w", err)
	}
	set, err := parseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("--jwks-file %s: %w", path, err)
	}
	return set, nil
}

func parseJWKS(data []byte) (map[string]any, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return pemJWKS(trimmed)
	}
	var m map[string]any
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil, fmt.Errorf("neither a JWK Set (JSON) nor a PEM public key: %w", err)
	}
	if _, ok := m["kty"]; ok { // one JWK
		m = map[string]any{"keys": []any{m}}
	}
	return m, nil
}

// pemJWKS turns a PEM public key into a JWK Set of one key.
func pemJWKS(data []byte) (map[string]any, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, errors.New("not a PEM block")
	case block.Type == "PUBLIC KEY":
	case block.Type == "PRIVATE KEY" || block.Type == "EC PRIVATE KEY" || block.Type == "RSA PRIVATE KEY":
		return nil, errors.New("holds a private key: give its public part (openssl pkey -in KEY.pem -pubout -out PUBLIC.pem)")
	default:
		return nil, fmt.Errorf("a PEM %s is not a public key: give a -----BEGIN PUBLIC KEY----- block", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the public key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: pub, Use: "sig"}
	if jwk.KeyID, err = dpop.Thumbprint(jwk); err != nil {
		return nil, fmt.Errorf("the public key: %w", err)
	}
	b, err := json.Marshal(jwk)
	if err != nil {
		return nil, fmt.Errorf("the public key: %w", err)
	}
	var key map[string]any
	if err := json.Unmarshal(b, &key); err != nil {
		return nil, err
	}
	return map[string]any{"keys": []any{key}}, nil
}
