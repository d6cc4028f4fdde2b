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

// Sealer encrypts secrets at rest with AES-256-GCM under a key derived
// from the system secret (HKDF-SHA256) for one purpose: private signing
// keys, TOTP secrets. The row's id is the associated data, so a sealed
// value cannot be moved to another row, and a value sealed for one
// purpose does not open under another.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

// signingKeysPurpose is the HKDF info of the signing keys' sealer.
const signingKeysPurpose = "latchkey signing keys v1"

func newSealer(systemSecret []byte, rand io.Reader) (*Sealer, error) {
	return NewSealer(systemSecret, signingKeysPurpose, rand)
}

// NewSealer returns the sealer of purpose (an HKDF info string, never
// reused for another kind of secret) under systemSecret.
func NewSealer(systemSecret []byte, purpose string, rand io.Reader) (*Sealer, error) {
	if len(systemSecret) < 16 {
		return nil, errors.New("keys: the system secret must be at least 16 bytes")
	}
	k, err := hkdf.Key(sha256.New, systemSecret, nil, purpose, 32)
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
	return &Sealer{aead: aead, rand: rand}, nil
}

// Seal encrypts plain for the row id.
func (s *Sealer) Seal(plain []byte, id string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(id)), nil
}

// ErrWrongSecret reports a stored value that the system secret cannot
// open: the secret changed, or instances do not share it.
var ErrWrongSecret = errors.New("keys: a stored secret cannot be decrypted with this system secret")

// Open decrypts what Seal sealed for the row id.
func (s *Sealer) Open(sealed []byte, id string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrWrongSecret
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrWrongSecret, id)
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
		if _, err := s.Open(k.Private, k.KID); err != nil {
			return err
		}
	}
	return nil
}
