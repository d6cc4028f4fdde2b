package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/latchkey/latchkey/internal/store"
)

// sealer encrypts private keys at rest with AES-256-GCM under a key derived
// from the system secret (HKDF-SHA256). The key id is the associated data,
// so a sealed key cannot be moved to another row.
type sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

func newSealer(systemSecret []byte, rand io.Reader) (*sealer, error) {
	if len(systemSecret) < 16 {
		return nil, errors.New("keys: the system secret must be at least 16 bytes")
	}
	k, err := hkdf.Key(sha256.New, systemSecret, nil, "latchkey signing keys v1", 32)
	if err != nil {
		return nil, fmt.Errorf("keys: derive key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("keys: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: gcm: %w", err)
	}
	return &sealer{aead: aead, rand: rand}, nil
}

func (s *sealer) seal(plain []byte, kid string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(kid)), nil
}

// ErrWrongSecret reports a stored key that the system secret cannot open:
// the secret changed, or instances do not share it.
var ErrWrongSecret = errors.New("keys: a stored signing key cannot be decrypted with this system secret")

func (s *sealer) open(sealed []byte, kid string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrWrongSecret
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("%w (key %s)", ErrWrongSecret, kid)
	}
	return plain, nil
}

// CheckSecret reports whether systemSecret opens every stored key in ks,
// without building signers: for a restore to refuse a backup whose keys a
// server with this secret could not load. The error wraps ErrWrongSecret.
func CheckSecret(ks []store.Key, systemSecret []byte) error {
	s, err := newSealer(systemSecret, nil)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if _, err := s.open(k.Private, k.KID); err != nil {
			return err
		}
	}
	return nil
}
