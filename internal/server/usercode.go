package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
)

// userCodeAlphabet is RFC 8628 §6.1's example: twenty consonants, no
// vowels (no words), and nothing that reads like another character.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// userCodeLen characters of the alphabet give 20^8 ≈ 2^34.5 codes (S193):
// with the guessing limits, and a few thousand live codes, a guess at the
// verification page has a chance well under one in a million.
const userCodeLen = 8

// maxUserCodeInput bounds what is read of a typed code: separators
// aside, a valid one has 8 characters.
const maxUserCodeInput = 64

// newUserCode draws a user code, normalised (8 letters, no dash). Each
// letter comes from one random byte below 240, a multiple of 20, so every
// letter is equally likely (no modulo bias); a byte of 240 or more is
// drawn again.
func newUserCode(rand io.Reader) (string, error) {
	const limit = 256 - 256%len(userCodeAlphabet)
	code := make([]byte, 0, userCodeLen)
	var buf [userCodeLen]byte
	for len(code) < userCodeLen {
		need := buf[:userCodeLen-len(code)]
		if _, err := io.ReadFull(rand, need); err != nil {
			return "", fmt.Errorf("user code: read random: %w", err)
		}
		for _, b := range need {
			if int(b) < limit {
				code = append(code, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(code), nil
}

// normalizeUserCode reads a code as a person typed it (RFC 8628 §6.1):
// case does not matter, dashes and spaces are ignored, and anything else
// outside the alphabet makes it not valid. Case is folded for ASCII only,
// so no other character can turn into a letter of the alphabet.
func normalizeUserCode(typed string) (string, bool) {
	if len(typed) > maxUserCodeInput {
		return "", false
	}
	var code [userCodeLen]byte
	n := 0
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if !isUserCodeLetter(c) || n == userCodeLen {
			return "", false
		}
		code[n] = c
		n++
	}
	if n != userCodeLen {
		return "", false
	}
	return string(code[:]), true
}

func isUserCodeLetter(c byte) bool {
	for i := range len(userCodeAlphabet) {
		if userCodeAlphabet[i] == c {
			return true
		}
	}
	return false
}

// formatUserCode shows a normalised code as people read it: BCDF-GHJK.
func formatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// userCodeDigest is the stored form of a normalised user code: an HMAC
// under a key derived from the system secret. The code space is small
// enough to enumerate, so a plain hash would let anyone with a copy of
// the database read off the live codes; the key keeps them unreadable.
func (s *Server) userCodeDigest(code string) string {
	m := hmac.New(sha256.New, s.userCodeKey)
	m.Write([]byte(code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
