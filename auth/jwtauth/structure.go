package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxKidLen bounds the kid: Better Auth's are 32 characters. A longer one is
// refused before it can cost a key set refetch.
const maxKidLen = 256

// checkStructure refuses what golang-jwt would let through but no honest
// issuer sends: duplicate keys in the header or the claims (parsers disagree
// on which one wins), a "crit" header (we implement no extensions, so RFC
// 7515 says reject), and an oversized kid. Key-location headers (jku, x5u,
// jwk, x5c) need no check: keys come only from our configuration, never from
// the token.
func checkStructure(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not three parts")
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if err := noDuplicateKeys(header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(header, &h); err != nil {
		return errors.New("header is not a JSON object")
	}
	if _, ok := h["crit"]; ok {
		return errors.New(`"crit" header: no extensions are supported`)
	}
	if kid, ok := h["kid"]; ok && len(kid) > maxKidLen {
		return errors.New("kid too long")
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if err := noDuplicateKeys(payload); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}

func decodeSegment(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	return b, nil
}

// noDuplicateKeys reports a key that appears twice in any object of doc.
// It only looks for keys: whether doc is valid JSON is the decoder's
// business, after this. It runs once per new token, so it scans the bytes
// instead of building values.
func noDuplicateKeys(doc []byte) error {
	type frame struct {
		object    bool
		expectKey bool
		keys      [][]byte
	}
	var stack []frame
	for i := 0; i < len(doc); {
		switch doc[i] {
		case '{':
			stack = append(stack, frame{object: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("not JSON")
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '"':
			end, err := stringEnd(doc, i)
			if err != nil {
				return err
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				key, err := unquote(doc[i:end])
				if err != nil {
					return err
				}
				for _, k := range stack[n-1].keys {
					if bytes.Equal(k, key) {
						return fmt.Errorf("duplicate key %q", key)
					}
				}
				stack[n-1].keys = append(stack[n-1].keys, key)
				stack[n-1].expectKey = false
			}
			i = end
			continue
		}
		i++
	}
	return nil
}

// stringEnd returns the index just past the JSON string starting at doc[i].
func stringEnd(doc []byte, i int) (int, error) {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("not JSON: unterminated string")
}

// unquote returns the bytes a quoted JSON string stands for; escapes are
// decoded, so "\u0073ub" and "sub" are the same key.
func unquote(quoted []byte) ([]byte, error) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return quoted[1 : len(quoted)-1], nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, errors.New("not JSON: bad string")
	}
	return []byte(s), nil
}
