// Package password hashes and checks user passwords and configured client
// secrets with argon2id (RFC 9106), in PHC string format. bcrypt hashes are
// accepted for checking so old user stores can be imported.
package password

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are the argon2id cost parameters for new hashes.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams are OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane).
func DefaultParams() Params { return Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1} }

const (
	saltLen = 16
	keyLen  = 32
	// maxMemoryKiB refuses stored hashes that would make one check cost
	// more than 1 GiB of memory (a hostile or corrupt hash).
	maxMemoryKiB = 1 << 20
	maxIter      = 64
)

// ErrMalformed reports a hash string that is neither argon2id nor bcrypt.
var ErrMalformed = errors.New("password: malformed hash")

// Hash returns the argon2id PHC string of password with a fresh salt read
// from rand.
func Hash(password string, p Params, rand io.Reader) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Check reports whether password matches hash (argon2id or bcrypt), in
// constant time with respect to the password.
func Check(password, hash string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2(password, hash)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("password: bcrypt: %w", err)
		}
		return true, nil
	}
	return false, ErrMalformed
}

// NeedsRehash reports whether hash should be replaced by one made with p.
func NeedsRehash(hash string, p Params) bool {
	ph, err := parseArgon2(hash)
	if err != nil {
		return true
	}
	return ph.params != p
}

// IsArgon2id reports whether hash is a well-formed argon2id PHC string.
func IsArgon2id(hash string) bool {
	_, err := parseArgon2(hash)
	return err == nil
}

type phc struct {
	params Params
	salt   []byte
	key    []byte
}

func parseArgon2(hash string) (phc, error) {
	// $argon2id$v=19$m=19456,t=2,p=1$salt$key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return phc{}, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phc{}, ErrMalformed
	}
	var h phc
	var par uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.params.MemoryKiB, &h.params.Iterations, &par); err != nil {
		return phc{}, ErrMalformed
	}
	if h.params.MemoryKiB == 0 || h.params.MemoryKiB > maxMemoryKiB || h.params.Iterations == 0 ||
		h.params.Iterations > maxIter || par == 0 || par > 255 {
		return phc{}, ErrMalformed
	}
	h.params.Parallelism = uint8(par)
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return phc{}, ErrMalformed
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return phc{}, ErrMalformed
	}
	return h, nil
}

func checkArgon2(password, hash string) (bool, error) {
	h, err := parseArgon2(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}
